from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from notifications import receivers, subscribed
        from notifications.models import Channel, Subscription

        # A change of who listens reaches every process's copy (subscribed.py).
        for model in (Subscription, Channel):
            post_save.connect(subscribed.changed, sender=model, dispatch_uid=f"subscribed-{model.__name__}-save")
            post_delete.connect(subscribed.changed, sender=model, dispatch_uid=f"subscribed-{model.__name__}-delete")
        # The runs, the breaker and the gates announce; notifications listen.
        receivers.connect()
