from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import ApiToken
from audit import trail


class Command(BaseCommand):
    help = "Create an API token for USERNAME; the token is the last line printed."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="a name to recognise the token by")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        with transaction.atomic():
            token_row, token = ApiToken.issue(user, options["name"])
            trail.record(
                trail.SYSTEM,
                trail.Change(
                    "api_token.created",
                    "api_token",
                    token_row.token_id,
                    after={"user": user.username, "name": token_row.name},
                ),
            )
        self.stdout.write(f"Created API token {token_row.name!r} for {user.username}:")
        self.stdout.write(token)
