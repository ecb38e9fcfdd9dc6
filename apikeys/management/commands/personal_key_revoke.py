from django.core.management.base import BaseCommand, CommandError

from apikeys import services
from apikeys.selectors import personal_key_find
from organisations.audit import Actor


class Command(BaseCommand):
    help = "Revoke a personal key at once. Prints what it would do unless --yes is given."

    def add_arguments(self, parser):
        parser.add_argument("key", help="Key id, lookup id or prefix such as uk_AbCd1234.")
        parser.add_argument("--yes", action="store_true", help="Revoke; without it this is a dry run.")

    def handle(self, *args, key, yes, **options):
        personal_key = personal_key_find(reference=key)
        if personal_key is None:
            raise CommandError(f"No personal key {key!r} (give its id, lookup id or prefix such as uk_AbCd1234).")
        described = f"{personal_key.prefix}  user={personal_key.user.get_username()!r}  status={personal_key.status}"
        if not yes:
            self.stdout.write(f"would revoke {described}")
            self.stdout.write("Dry run: pass --yes to revoke.")
            return
        personal_key = services.personal_key_revoke(
            personal_key=personal_key, actor=Actor.command("personal_key_revoke")
        )
        self.stdout.write(f"revoked {personal_key.prefix}  user={personal_key.user.get_username()!r}")
