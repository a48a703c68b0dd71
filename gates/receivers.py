"""The gates floor hears the runs below it end (connected in GatesConfig.ready())."""

from gates import services
from gates.models import Check


def on_execution_finished(sender, execution, **kwargs) -> None:
    """A check is decided when its last run ends, not when someone next asks:
    a pipeline that stopped waiting still finds the verdict (and its
    notification goes out) once the runs are over."""
    for check in Check.objects.filter(executions=execution, verdict__isnull=True):
        services.refresh(check)
