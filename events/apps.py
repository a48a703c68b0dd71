from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Sources, events and bindings"

    def ready(self):
        from events import breaker, hookconfig
        from runbooks.signals import execution_finished

        hookconfig.signals()
        # A run of a binding ended: its breaker counts the failures.
        execution_finished.connect(breaker.on_execution_finished, dispatch_uid="events-breaker")
