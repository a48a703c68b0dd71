"""`make mutate` (python -m bench.mutate): mutation testing of the critical modules.

    python -m bench.mutate                       # every module below
    python -m bench.mutate --only matching,dedup # some of them
    python -m bench.mutate --fresh               # forget earlier results

For each module, mutmut (pinned in requirements-dev.txt) changes the code one
small edit at a time (a `<` for a `<=`, a constant, a dropped argument) and
runs the tests that cover it; a mutant the tests do not notice survives. It
prints, per module, killed/total, the score against TARGET and the diff of
every survivor. A benchmark, not a test: CI does not run it, and it exits 1
when a module is under the target only so a script can tell.

MODULES is the one list of what is mutated and by which tests: when a module
moves, change its path here. Each module runs in a root of its own under
var/mutate/<name>/ (symlinks to the checkout), because mutmut keeps its
results in a `mutants/` folder beside its config, and one folder per module
keeps one module's test selection from invalidating another's results.

It runs on SQLite and the filesystem broker (no DATABASE_URL), nice'd, with
one mutant at a time: the machine's two cores are shared. Only the fast tests
run (`-m "not worker and not browser"`); mutmut narrows them further to the
tests that executed the mutated function.

A survivor judged equivalent (no test could tell it from the original) is
listed by name in docs/testing.md, "Mutation testing", with the reason; it is
left out of the score's denominator and marked so below.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TARGET = 0.90
CHECKOUT = Path(__file__).resolve().parent.parent
WORK = CHECKOUT / "var" / "mutate"
EQUIVALENTS_DOC = CHECKOUT / "docs" / "testing.md"


@dataclass(frozen=True)
class Module:
    files: tuple[str, ...]  # what is mutated
    tests: tuple[str, ...]  # what may kill it (mutmut runs the ones that reach each function)


MODULES: dict[str, Module] = {
    "matching": Module(
        ("events/matching.py",),
        ("tests/events/test_matching.py", "tests/events/test_binding_tester.py"),
    ),
    "dedup": Module(
        ("events/dedup.py",),
        ("tests/events/test_occurrences.py", "tests/events/test_webhook.py"),
    ),
    "breaker": Module(
        ("events/breaker.py",),
        ("tests/events/test_binding_policies.py",),
    ),
    "masking": Module(
        ("runbooks/runners/masking.py",),
        ("tests/runbooks/test_masking.py",),
    ),
    "runner": Module(
        ("runbooks/runners/process.py", "runbooks/runners/python.py", "runbooks/runners/shell.py"),
        ("tests/runbooks/test_runner.py", "tests/runbooks/test_containment.py"),
    ),
    "audit": Module(
        ("audit/trail.py",),
        ("tests/audit/test_trail.py", "tests/audit/test_chain_checks.py"),
    ),
    "roles": Module(
        ("accounts/roles.py", "accounts/permissions.py"),
        ("tests/accounts/test_role_matrix.py",),
    ),
    "approvals": Module(
        ("runbooks/approvals.py", "runbooks/review.py"),
        ("tests/runbooks/test_approvals.py", "tests/runbooks/test_four_eyes.py", "tests/runbooks/test_review.py"),
    ),
    "gates": Module(
        ("gates/services.py",),
        ("tests/gates/test_receivers.py", "tests/gates/test_verdicts.py"),
    ),
    "ssrf": Module(
        ("notifications/guard.py", "notifications/transport.py"),
        ("tests/notifications/test_guard.py", "tests/notifications/test_delivery.py"),
    ),
    "pagination": Module(
        ("core/keyset.py", "webui/pagination.py"),
        ("tests/lists/test_list_pages.py", "tests/lists/test_api_filters.py", "tests/lists/test_tied_timestamps.py"),
    ),
    "webhook_auth": Module(
        ("events/credentials.py", "events/views.py"),
        ("tests/events/test_webhook.py", "tests/events/test_source_token_grace.py", "tests/events/test_rate_limit.py"),
    ),
}

# What the copy under mutants/ needs besides the mutated files: the whole
# project, so Django finds every app, the settings, pytest.ini and the fixtures.
SKIP = {".git", ".venv", "var", "mutants", "test-artifacts", "staticfiles", "control", "__pycache__"}

# Pytest arguments for every run: the fast tests only, no cache written, and
# one test database kept between mutants (the forked runs share VAR_DIR, so
# reusing it skips the migrations each mutant would otherwise pay for).
PYTEST_ARGS = ["-m", "not worker and not browser", "-p", "no:cacheprovider", "--reuse-db"]


def project_items() -> list[str]:
    return sorted(p.name for p in CHECKOUT.iterdir() if p.name not in SKIP and not p.name.startswith(".git"))


def prepare_root(name: str, fresh: bool) -> Path:
    """var/mutate/<name>/: the checkout's entries as symlinks, mutmut's state beside them."""
    root = WORK / name
    if fresh and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    for item in project_items():
        link = root / item
        if not link.is_symlink():
            link.symlink_to(CHECKOUT / item)
    return root


# Every module's selection includes the tests written to kill its mutants.
# One folder for all, so adding a test file leaves the selection (and so
# mutmut's cached results) as they were; mutmut runs, for each mutant, only
# the tests that executed the mutated function.
KILLERS = "tests/mutation_targets"


def mutmut_config(module: Module) -> dict:
    tests = [t for t in module.tests if (CHECKOUT / t).exists()] + [KILLERS]
    mutated = set(module.files)
    return {
        "source_paths": list(module.files),
        # every other entry of the project, copied as is (tests/ mutmut copies itself)
        "also_copy": [item for item in project_items() if item != "tests" and item not in mutated],
        "pytest_add_cli_args": PYTEST_ARGS,
        "pytest_add_cli_args_test_selection": tests,
        # mutmut's git-based change detection looks at the cwd's repository;
        # the root is not one, and every run starts from the files as they are.
        "use_git_change_detection": False,
    }


def run_in_root(name: str, mutants: list[str], collect_only: bool = False) -> int:
    """The child process, in var/mutate/<name>/: run mutmut with this module's
    config (or, `collect_only`, only read what the last run stored, finished or not)."""
    # bench/ is sys.path[0] (this file ran as a script); only mutants/ may supply modules
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    from mutmut import configuration

    settings = mutmut_config(MODULES[name])

    def reader(key, default):
        return settings.get(key, default)

    # mutmut reads its config from setup.cfg or pyproject.toml in the cwd;
    # the module table above is the config, so hand it over directly.
    configuration._config_reader = lambda: reader
    configuration.reset_config()

    from mutmut.__main__ import cli

    if not collect_only:
        try:
            cli(["run", "--max-children", "1", *mutants], standalone_mode=False)
        except SystemExit as stop:
            if stop.code:
                return int(stop.code)
    summary = collect(settings["source_paths"])
    Path("summary.json").write_text(json.dumps(summary, indent=1))
    return 0


def collect(files: list[str]) -> dict:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    counts: dict[str, int] = {}
    survivors = []
    for path in files:
        data = SourceFileMutationData(path=Path(path))
        data.load()
        for key, code in sorted(data.exit_code_by_key.items(), key=lambda kv: natural(kv[0])):
            status = status_by_exit_code[code]
            counts[status] = counts.get(status, 0) + 1
            if status not in ("killed", "timeout", "caught by type check", "segfault", "not checked"):
                diff = get_diff_for_mutant(key, path=path)
                changed = [line for line in diff.splitlines()[2:] if line[:1] in "+-"]
                survivors.append({"name": key, "status": status, "diff": changed})
    return {"counts": counts, "survivors": survivors}


def natural(key: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def equivalents() -> set[str]:
    """Mutant names that docs/testing.md lists as equivalent (in backquotes)."""
    if not EQUIVALENTS_DOC.exists():
        return set()
    text = EQUIVALENTS_DOC.read_text()
    section = text.split("## Mutation testing", 1)[-1] if "## Mutation testing" in text else ""
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    return set(re.findall(r"`([\w.]+__mutmut_\d+)`", section))


def report(name: str, summary: dict, known: set[str]) -> bool:
    counts = dict(summary["counts"])
    unchecked = counts.pop("not checked", 0)  # a run stopped before them
    total = sum(counts.values())
    killed = sum(counts.get(s, 0) for s in ("killed", "timeout", "caught by type check", "segfault"))
    equivalent = [s for s in summary["survivors"] if s["name"] in known]
    judged = total - len(equivalent)
    score = killed / judged if judged else 1.0
    verdict = "PASS" if score >= TARGET else "FAIL"
    extra = f", {len(equivalent)} equivalent" if equivalent else ""
    extra += f", {unchecked} not yet checked (run stopped)" if unchecked else ""
    print(f"{name:<13} killed {killed}/{total}{extra}  score {score:6.1%}  {verdict}")
    for s in summary["survivors"]:
        mark = " (equivalent, see docs/testing.md)" if s["name"] in known else ""
        print(f"    {s['status']}: {s['name']}{mark}")
        for line in s["diff"]:
            print(f"        {line}")
    return verdict == "PASS"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated module names: " + ", ".join(MODULES))
    parser.add_argument("--fresh", action="store_true", help="drop earlier results and mutants first")
    parser.add_argument("--report", action="store_true", help="print the last results without running")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="test again only the last run's survivors (after adding tests); the others keep their result",
    )
    parser.add_argument("--in-root", help=argparse.SUPPRESS)
    parser.add_argument("--mutants", default="", help=argparse.SUPPRESS)
    parser.add_argument("--collect-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_root:
        return run_in_root(args.in_root, [m for m in args.mutants.split(",") if m], args.collect_only)

    names = args.only.split(",") if args.only else list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(MODULES)}")

    failed = []
    for name in names:
        root = prepare_root(name, args.fresh and not args.report)
        again = []
        if args.survivors:
            last = root / "summary.json"
            known = equivalents()  # judged already: testing them again tells nothing new
            survivors = json.loads(last.read_text())["survivors"] if last.exists() else []
            again = [s["name"] for s in survivors if s["name"] not in known]
            if not again:
                print(f"{name}: no survivors to test again")
        if not args.report and (again or not args.survivors):
            print(f"== {name}: mutating {', '.join(MODULES[name].files)}", flush=True)
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
            env.setdefault("SECRET_KEY", "test-only-not-secret")
            env.setdefault("STEWARD_ENCRYPTION_KEY", "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTAwMDA=")
            # one folder for the test database and broker, shared by the forked
            # runs; in the temp folder, which the checkout guard allows
            testvar = tempfile.mkdtemp(prefix=f"steward-mutate-{name}-")
            env["STEWARD_VAR_DIR"] = testvar
            log = root / "mutmut.log"
            with log.open("w") as out:
                code = subprocess.call(
                    # this file by its checkout path, not through the root's
                    # symlink: a traceback reading it then stays off the guard's watch
                    ["nice", "-n", "10", sys.executable, __file__, "--in-root", name, "--mutants", ",".join(again)],
                    cwd=root,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            shutil.rmtree(testvar, ignore_errors=True)
            if code:
                print(f"{name}: mutmut failed (exit {code}); its output is in {log}")
                failed.append(name)
                continue
        if args.report and (root / "mutants").exists():
            # read mutmut's stored results afresh: a run stopped halfway has some
            collecting = [sys.executable, __file__, "--in-root", name, "--collect-only"]
            subprocess.call(collecting, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        summary_file = root / "summary.json"
        if not summary_file.exists():
            print(f"{name}: no results yet")
            failed.append(name)
            continue
        if not report(name, json.loads(summary_file.read_text()), equivalents()):
            failed.append(name)
    if failed:
        print(f"under {TARGET:.0%} or not run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
