from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts import roles, services
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
        token_row, token = services.issue_token(user, options["name"], trail.SYSTEM)
        if roles.role_of(user) is None:
            # Still issued (a role may come later), but say why it will get 403s.
            self.stderr.write(f"Note: {user.username} has no role yet; the API refuses this token until they get one.")
        self.stdout.write(f"Created API token {token_row.name!r} for {user.username}:")
        self.stdout.write(token)
