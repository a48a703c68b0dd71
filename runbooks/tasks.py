from celery import shared_task

from runbooks import worker


@shared_task(bind=True, name="runbooks.run_execution", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execution(self, execution_id: str) -> None:
    """Run one execution; takes only its id, the row holds everything else."""
    worker.run(execution_id, worker=self.request.hostname or "")
