from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "gates"
    verbose_name = "Deployment gates"

    def ready(self):
        from gates import receivers
        from runbooks.signals import execution_finished

        execution_finished.connect(receivers.on_execution_finished, dispatch_uid="gates-decide")
