"""Re-encrypt every secret at rest (runbook secrets and sources' signing
secrets) with the first key of STEWARD_ENCRYPTION_KEY: the step between
adding a new key and removing the old one."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import crypto
from events.models import Source
from notifications import channels as notification_channels
from runbooks import secret_store


class Command(BaseCommand):
    help = "Re-encrypt every secret with the first key of STEWARD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                count = secret_store.rotate_all()
                signing = rotate_signing_secrets() + notification_channels.rotate_all()
        except crypto.DecryptionError as exc:
            raise CommandError(f"Nothing was changed: a secret {exc}.") from None
        self.stdout.write(f"re-encrypted {count} secret(s) and {signing} signing secret(s) with the first key")


def rotate_signing_secrets() -> int:
    sources = list(Source.objects.exclude(signing_secret_encrypted="").select_for_update())
    for source in sources:
        source.signing_secret_encrypted = crypto.rotate(source.signing_secret_encrypted)
        source.save(update_fields=["signing_secret_encrypted"])
    return len(sources)
