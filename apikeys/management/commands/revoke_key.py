from django.core.management.base import BaseCommand

from apikeys import services
from apikeys.management.commands._helpers import describe, find_key
from organisations.audit import Actor


class Command(BaseCommand):
    help = "Revoke a key at once. Prints what it would do unless --yes is given."

    def add_arguments(self, parser):
        parser.add_argument("key", help="Key id, lookup id or prefix such as sk_AbCd1234.")
        parser.add_argument("--yes", action="store_true", help="Revoke; without it this is a dry run.")

    def handle(self, *args, key, yes, **options):
        api_key = find_key(key)
        if not yes:
            self.stdout.write(f"would revoke {describe(api_key)}")
            self.stdout.write("Dry run: pass --yes to revoke.")
            return
        api_key = services.api_key_revoke(api_key=api_key, actor=Actor.command("revoke_key"))
        self.stdout.write(f"revoked {describe(api_key)}")
