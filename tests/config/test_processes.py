"""The processes a deployment runs: web and worker; Celery beat would be idle."""

from pathlib import Path

import yaml
from django.conf import settings

from config.celery import app


def test_beat_has_no_schedule_so_no_deployment_starts_it():
    # The periodic work runs in each worker's agent thread (ops/worker_agent.py).
    assert not app.conf.beat_schedule
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
    commands = {name: " ".join(service.get("command", [])) for name, service in compose["services"].items()}
    assert not [name for name, command in commands.items() if " beat" in command], commands
    assert "celery -A config worker" in commands["worker"]
