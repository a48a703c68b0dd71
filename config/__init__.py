from core.procfs import keep_environment_private

# First, in every Steward process (web, worker, beat, manage.py): each
# imports this package to read its settings. See core/procfs.py.
keep_environment_private()

from config.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
