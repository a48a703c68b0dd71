"""How every process Steward starts runs a Celery worker: `make run`'s
supervisor, the tests' real workers and the benchmark alike."""


def worker_command(python: str, queues: list[str], name: str, *options: str) -> list[str]:
    """`python -m celery -A config worker`, consuming `queues`, named `name`
    (`%h` is the host), with Celery's own `options` after."""
    return [python, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(queues), "-n", name, *options]
