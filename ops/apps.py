from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        # Connects the Celery worker's signals (start the agent thread, check
        # the sandbox, drain on shutdown); they fire only in a worker.
        from ops import worker_agent  # noqa: F401
