from celery import shared_task

from notifications import delivery


@shared_task(name="notifications.deliver", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver(delivery_id: str) -> None:
    """One attempt of one delivery; takes only its id, the row holds the rest."""
    delivery.attempt(delivery_id)
