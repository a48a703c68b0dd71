from celery import shared_task

from runbooks import execution


@shared_task(name="runbooks.run_execution", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execution(execution_id: str) -> None:
    """Run one execution; takes only its id, the row holds everything else."""
    execution.run(execution_id)
