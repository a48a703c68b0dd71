"""Notifications hear the floors below them (connected in
NotificationsConfig.ready()): nothing below this app imports it. Each signal
heard here is sent inside the transaction of its change, so the delivery
rows commit with it, and are published once it has."""

from notifications import emit


def on_runs_created(sender, executions, **kwargs) -> None:
    emit.runs_created(executions)


def on_execution_started(sender, execution, **kwargs) -> None:
    emit.run_started(execution)


def on_execution_ending(sender, execution, **kwargs) -> None:
    emit.run_finished(execution)


def on_binding_tripped(sender, binding, **kwargs) -> None:
    emit.binding_tripped(binding)


def on_check_decided(sender, check, **kwargs) -> None:
    emit.gate_decided(check)


def connect() -> None:
    from events.signals import binding_tripped
    from gates.signals import check_decided
    from runbooks.signals import execution_ending, execution_started, runs_created

    runs_created.connect(on_runs_created, dispatch_uid="notify-runs-created")
    execution_started.connect(on_execution_started, dispatch_uid="notify-run-started")
    execution_ending.connect(on_execution_ending, dispatch_uid="notify-run-finished")
    binding_tripped.connect(on_binding_tripped, dispatch_uid="notify-binding-tripped")
    check_decided.connect(on_check_decided, dispatch_uid="notify-gate-decided")
