"""The runner's sandbox on real subprocesses: resource limits, no new
privileges, Steward's folders hidden, secrets in the environment and masked."""

import os
import resource
import shutil
import threading

import pytest

from runbooks.runners import namespaces, sandbox
from runbooks.runners.masking import Masker
from runbooks.runners.process import RunSpec, run
from tests.conftest import wait_for
from tests.processes import folder_outside_tmp
from tests.runbooks.test_runner import ListSink
from tests.services import require


@pytest.fixture(scope="module", autouse=True)
def _namespaces_available():
    """Every run here goes through the real sandbox: without bubblewrap a
    local run skips, CI (STEWARD_REQUIRE_SERVICES=1) fails."""
    require(namespaces.bwrap_path() is not None, "bubblewrap (apt-get install bubblewrap)")


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


def test_processes_are_limited_per_run_and_a_bomb_does_not_starve_a_concurrent_run():
    if os.geteuid() != 0:
        pytest.skip("RLIMIT_NPROC is only set when a root worker runs each runbook as a UID of its own")
    bomb = (
        "import os, time\nn = 0\ntry:\n    for _ in range(1000):\n        if os.fork() == 0:\n"
        "            time.sleep(5); os._exit(0)\n        n += 1\n"
        "except OSError as exc:\n    print('stopped after', n, exc.strerror, flush=True)\ntime.sleep(2)\n"
    )
    limits = sandbox.Limits(processes=50)
    bombed, other = ListSink(), ListSink()
    results = {}
    thread = threading.Thread(target=lambda: results.update(bomb=run(spec(bomb, limits=limits), bombed)))
    thread.start()
    wait_for(lambda: bombed.texts("stdout"), timeout=10, what="the bomb to hit its limit")
    # While the bomb holds all the processes its UID may have, another run
    # (another UID) forks freely.
    script = "import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n        time.sleep(1); os._exit(0)\n"
    script += "print('forked 20')\n"
    outcome = run(spec(script, limits=limits), other)
    thread.join()
    [line] = bombed.texts("stdout")
    assert line.startswith("stopped after") and "Resource temporarily unavailable" in line
    assert int(line.split()[2]) < 50
    assert outcome.status == "succeeded" and other.texts("stdout") == ["forked 20"], other.texts()


@pytest.fixture
def outside():
    """A folder the runbook's UID could read, outside /tmp (each run has a
    /tmp of its own, where the host's is not to be seen at all)."""
    folder = folder_outside_tmp()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_hidden_folders_exist_outside_but_the_run_sees_them_empty_and_read_only(outside):
    hidden = outside / "steward"
    hidden.mkdir(mode=0o755)
    (hidden / "settings.py").write_text("SECRET = 1")
    script = (
        "import os\n"
        f"print(os.listdir({str(hidden)!r}))\n"
        f"for path in ({str(hidden / 'settings.py')!r}, {str(hidden / 'new')!r}):\n"
        "    try:\n"
        "        open(path, 'r' if path.endswith('.py') else 'w').read()\n"
        "        print('opened')\n"
        "    except OSError as exc:\n"
        "        print(exc.strerror)\n"
        "print(open('/etc/hostname').read() != '')\n"
        "open('in-the-workdir', 'w').write('ok')\nprint(open('in-the-workdir').read())\n"
    )
    sink = ListSink()
    outcome = run(spec(script, hidden_paths=[str(hidden)]), sink)
    assert outcome.status == "succeeded", sink.texts()
    assert sink.texts() == ["[]", "No such file or directory", "Read-only file system", "True", "ok"]
    assert sorted(os.listdir(hidden)) == ["settings.py"]


def test_landlock_hides_folders_when_the_worker_opted_out_of_namespaces(outside):
    if sandbox.landlock_abi() == 0:
        pytest.skip("this kernel has no Landlock")
    hidden = outside / "steward"
    hidden.mkdir(mode=0o755)
    (hidden / "settings.py").write_text("SECRET = 1")
    visible = outside / "elsewhere.txt"
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
    outcome = run(spec(script, hidden_paths=[str(hidden)], sandbox="process"), sink)
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


def test_tmp_var_tmp_and_dev_shm_are_the_runs_own_and_size_limited():
    sink = ListSink()
    script = 'touch /tmp/mine /dev/shm/mine\nfor d in /tmp /var/tmp /dev/shm; do stat -f -c "$d %b %S" $d; done\n'
    outcome = run(spec(script, kind="shell", tmp_bytes=64 * sandbox.MiB), sink)
    assert outcome.status == "succeeded", sink.texts()
    sizes = {folder: int(blocks) * int(size) for folder, blocks, size in map(str.split, sink.texts("stdout"))}
    assert sizes == dict.fromkeys(("/tmp", "/var/tmp", "/dev/shm"), 64 * sandbox.MiB)
    assert not os.path.exists("/dev/shm/mine")  # nothing of it reached the machine's


DNS_QUERY = """
import os, socket, struct
server = open("/etc/resolv.conf").read().split()[1]
query = struct.pack(">HHHHHH", 0x5157, 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in "pypi.org".split(".")) + b"\\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(query, (server, 53))
print(server, "answered" if s.recv(4096)[:2] == b"\\x51\\x57" else "garbled")
"""


def test_an_egress_run_behind_a_loopback_resolver_gets_dns_through_pasta():
    """Docker's resolver is 127.0.0.11, on a loopback the run cannot reach:
    its /etc/resolv.conf then names an address pasta maps to that resolver."""
    sink = ListSink()
    outcome = run(spec(DNS_QUERY, network="egress", dns_forward=True), sink)
    assert outcome.status == "succeeded", sink.texts()
    assert sink.texts("stdout") == [f"{namespaces.DNS_FORWARD} answered"]


def test_a_loopback_resolver_is_recognised(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# docker\nnameserver 127.0.0.11\noptions ndots:0\n")
    assert namespaces.loopback_resolver(str(conf))
    conf.write_text("nameserver 10.255.255.53\n")
    assert not namespaces.loopback_resolver(str(conf))
