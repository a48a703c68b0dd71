"""Settings read credentials from URLs and from NAME_FILE, and pick the JSON
caches: checked in a fresh process, as a deployment starts one."""

import json
import os
import subprocess
import sys

from django.conf import settings


def settings_in_a_fresh_process(**env) -> dict:
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps({'cache': settings.CACHES['default'], 'broker': settings.CELERY_BROKER_URL, "
        "'database': settings.DATABASES['default']['PASSWORD'], 'secret_key': settings.SECRET_KEY}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CACHE_URL", "CELERY_BROKER_URL", "SECRET_KEY"))}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=clean, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 or env.get("expect_failure"), done.stderr
    return json.loads(done.stdout) if done.returncode == 0 else {"stderr": done.stderr}


def test_settings_pick_the_json_caches_and_read_passwords_from_urls_and_files(tmp_path):
    on_database = settings_in_a_fresh_process(SECRET_KEY="k")
    assert on_database["cache"]["BACKEND"] == "core.caches.DatabaseCache"
    url_file = tmp_path / "cache_url"
    url_file.write_text("redis://steward_cache:p%40ss@127.0.0.1:6379/3\n")
    key_file = tmp_path / "secret_key"
    key_file.write_text("from-a-file\n")
    on_redis = settings_in_a_fresh_process(
        CACHE_URL_FILE=str(url_file),
        CELERY_BROKER_URL="redis://:broker-pw@127.0.0.1:6379/2",
        DATABASE_URL="postgres://steward:db%2Fpw@127.0.0.1:5432/steward",
        SECRET_KEY_FILE=str(key_file),
    )
    assert on_redis["cache"]["BACKEND"] == "core.caches.RedisCache"
    assert on_redis["cache"]["OPTIONS"]["serializer"] == "core.caches.JSONSerializer"
    assert on_redis["cache"]["LOCATION"] == "redis://steward_cache:p%40ss@127.0.0.1:6379/3"
    assert on_redis["broker"] == "redis://:broker-pw@127.0.0.1:6379/2"
    assert on_redis["database"] == "db/pw"
    assert on_redis["secret_key"] == "from-a-file"
    both = settings_in_a_fresh_process(SECRET_KEY="k", SECRET_KEY_FILE=str(key_file), expect_failure="1")
    assert "SECRET_KEY or SECRET_KEY_FILE, not both" in both["stderr"]
    not_redis = settings_in_a_fresh_process(SECRET_KEY="k", CACHE_URL="memcached://:pw@x", expect_failure="1")
    assert "CACHE_URL must be a redis:// URL" in not_redis["stderr"] and ":pw@" not in not_redis["stderr"]
