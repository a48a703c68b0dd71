from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Sources, events and bindings"

    def ready(self):
        from events import hookconfig

        hookconfig.signals()
