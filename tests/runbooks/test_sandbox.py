"""The runner's sandbox on real subprocesses: resource limits, no new
privileges, Steward's folders hidden, secrets in the environment and masked."""

import os
import resource

import pytest

from runbooks.runners import sandbox
from runbooks.runners.masking import Masker
from runbooks.runners.process import RunSpec, run
from tests.runbooks.test_runner import ListSink


def spec(script, kind="python", **fields):
    fields.setdefault("parameters", {})
    fields.setdefault("event", {})
    fields.setdefault("timeout_seconds", 10)
    return RunSpec(kind=kind, script=script, **fields)


def test_limits_are_set_in_the_child():
    sink = ListSink()
    script = (
        "import resource\n"
        "for name in ('RLIMIT_CPU', 'RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CORE'):\n"
        "    print(name, *resource.getrlimit(getattr(resource, name)))\n"
        "print('NoNewPrivs', open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0])\n"
    )
    limits = sandbox.Limits(address_space_bytes=2 * sandbox.GiB, file_bytes=5 * sandbox.MiB, open_files=64)
    outcome = run(spec(script, timeout_seconds=7, limits=limits), sink)
    assert outcome.status == "succeeded", sink.texts()
    assert sink.texts() == [
        "RLIMIT_CPU 17 22",  # the timeout + 10 s margin; SIGKILL 5 s after SIGXCPU
        f"RLIMIT_AS {2 * sandbox.GiB} {2 * sandbox.GiB}",
        f"RLIMIT_FSIZE {5 * sandbox.MiB} {5 * sandbox.MiB}",
        "RLIMIT_NOFILE 64 64",
        "RLIMIT_CORE 0 0",
        "NoNewPrivs 1",
    ]


def test_cpu_time_past_the_limit_fails_with_the_reason():
    outcome = run(spec("while True:\n    pass\n", timeout_seconds=20, limits=sandbox.Limits(cpu_seconds=1)), ListSink())
    assert outcome.status == "failed" and "SIGXCPU" in outcome.error and "CPU time" in outcome.error


def test_memory_over_the_address_space_limit_is_a_memory_error():
    sink = ListSink()
    outcome = run(spec("x = bytearray(512 * 1024**2)", limits=sandbox.Limits(address_space_bytes=256 * 1024**2)), sink)
    assert outcome.status == "failed" and any("MemoryError" in text for text in sink.texts("stderr"))


def test_a_file_over_the_size_limit_cannot_be_written():
    sink = ListSink()
    script = "open('big', 'wb').write(b'x' * (2 * 1024**2))"
    outcome = run(spec(script, limits=sandbox.Limits(file_bytes=1024**2)), sink)
    assert outcome.status == "failed" and any("File too large" in text for text in sink.texts("stderr"))


def test_open_files_are_limited():
    sink = ListSink()
    script = "files = [open('/dev/null') for _ in range(100)]"
    outcome = run(spec(script, limits=sandbox.Limits(open_files=32)), sink)
    assert outcome.status == "failed" and any("Too many open files" in text for text in sink.texts("stderr"))


def _owner(path: str) -> int | None:
    try:
        return os.stat(path).st_uid
    except FileNotFoundError:  # the process ended while we counted
        return None


def test_processes_are_limited_for_the_runbook_user():
    if os.geteuid() != 0:
        pytest.skip("RLIMIT_NPROC is only set when a root worker switches to the runbook user")
    sink = ListSink()
    script = (
        "import os\nn = 0\ntry:\n    for _ in range(1000):\n        if os.fork() == 0:\n"
        "            import time; time.sleep(5); os._exit(0)\n        n += 1\n"
        "except OSError as exc:\n    print('stopped after', n, exc.strerror)\n"
    )
    # Set well above what `nobody` already runs here, far below 1000.
    running = sum(1 for p in os.scandir("/proc") if p.name.isdigit() and _owner(p.path) == 65534)
    outcome = run(spec(script, run_as="nobody", limits=sandbox.Limits(processes=running + 50)), sink)
    assert outcome.status == "succeeded", sink.texts()
    [line] = sink.texts("stdout")
    assert line.startswith("stopped after") and "Resource temporarily unavailable" in line


def test_hidden_folders_cannot_be_read_or_written_but_the_rest_can(tmp_path):
    if sandbox.landlock_abi() == 0:
        pytest.skip("this kernel has no Landlock")
    hidden = tmp_path / "steward"
    hidden.mkdir()
    (hidden / "settings.py").write_text("SECRET = 1")
    visible = tmp_path / "elsewhere.txt"
    visible.write_text("fine")
    script = (
        "import os\n"
        f"for path in ({str(hidden / 'settings.py')!r}, {str(hidden)!r}, {str(visible)!r}, '/etc/hostname'):\n"
        "    try:\n"
        "        os.listdir(path) if os.path.isdir(path) else open(path).read()\n"
        "        print('read')\n"
        "    except OSError as exc:\n"
        "        print(exc.strerror)\n"
        f"try:\n    open({str(hidden / 'new')!r}, 'w')\nexcept OSError as exc:\n    print(exc.strerror)\n"
        "open('in-the-workdir', 'w').write('ok')\nprint(open('in-the-workdir').read())\n"
    )
    sink = ListSink()
    outcome = run(spec(script, hidden_paths=[str(hidden)]), sink)
    assert outcome.status == "succeeded", sink.texts()
    assert sink.texts() == ["Permission denied", "Permission denied", "read", "read", "Permission denied", "ok"]


def test_secrets_reach_the_runbook_and_are_masked_everywhere():
    sink = ListSink()
    script = (
        "import json, os, sys\n"
        "print('db password:', os.environ['DB_PASSWORD'])\n"
        "print(os.environ['API_KEY'] + os.environ['DB_PASSWORD'], file=sys.stderr)\n"
        "json.dump({'p': os.environ['DB_PASSWORD'], 'n': 123456}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    )
    secrets = {"DB_PASSWORD": "hunter2-long", "API_KEY": "key-hunter2-long", "PIN": "123456"}
    outcome = run(spec(script, secrets=secrets), sink)
    assert outcome.status == "succeeded"
    assert sink.texts("stdout") == ["db password: ***"]
    assert sink.texts("stderr") == ["******"]
    assert outcome.result == {"p": "***", "n": "***"}


def test_masker_masks_longer_values_first_and_multiline_values_line_by_line():
    masker = Masker(["abc", "abcdef", "-----BEGIN KEY-----\nMIIEvQIBADAN\n-----END KEY-----", ""])
    assert masker.text("x abcdef y abc") == "x *** y ***"
    assert masker.text("MIIEvQIBADAN") == "***"
    assert masker.json({"abc": ["abcdef", 1, True, None]}) == {"***": ["***", 1, True, None]}
    assert not Masker([]) and Masker([]).text("abc") == "abc"


def test_the_worker_limits_do_not_loosen_a_lower_hard_limit():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    sink = ListSink()
    outcome = run(
        spec(
            "import resource; print(*resource.getrlimit(resource.RLIMIT_NOFILE))",
            limits=sandbox.Limits(open_files=10**7),
        ),
        sink,
    )
    assert outcome.status == "succeeded"
    assert int(sink.texts()[0].split()[1]) <= hard
