"""python manage.py api_token USERNAME [--rotate]: print the user's REST API token, creating it if needed."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotation.services.accounts import api_token_get_or_create


class Command(BaseCommand):
    help = "Print a user's REST API token (send it as 'Authorization: Token <key>'), creating it if needed."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Replace the token with a new one")

    def handle(self, *args, **opts):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: opts["username"]})
        except User.DoesNotExist as exc:
            raise CommandError(f"no user {opts['username']!r}") from exc
        self.stdout.write(api_token_get_or_create(user=user, rotate=opts["rotate"]))
