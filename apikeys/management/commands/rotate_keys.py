from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apikeys import services
from apikeys.management.commands._helpers import describe, duration, find_app, find_key
from apikeys.selectors import api_keys_expiring, app_keys_list, usable_keys_q
from organisations.audit import Actor


class Command(BaseCommand):
    help = (
        "Rotate keys: one key, one app's working keys, or every key expiring within a period. "
        "Prints what it would do unless --yes is given; with --yes prints each new key once."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--key", help="One key: id, lookup id or prefix.")
        target.add_argument("--app", help="Every working key of this app (id or name).")
        target.add_argument("--expiring-within", help="Every working key expiring within e.g. 30d or 12h.")
        parser.add_argument(
            "--grace",
            default=f"{settings.API_KEY_ROTATION_GRACE_SECONDS}s",
            help="How long old keys keep working, e.g. 24h; 0 revokes them at once.",
        )
        parser.add_argument("--yes", action="store_true", help="Rotate; without it this is a dry run.")

    def handle(self, *args, key, app, expiring_within, grace, yes, **options):
        grace_period = duration(grace)
        if key:
            targets = [find_key(key)]
        elif app:
            targets = list(
                app_keys_list(app=find_app(app)).filter(usable_keys_q(timezone.now()), replaced_by__isnull=True)
            )
        else:
            targets = list(api_keys_expiring(within=duration(expiring_within)))
        if not targets:
            self.stdout.write("No keys to rotate.")
            return
        if not yes:
            for api_key in targets:
                self.stdout.write(f"would rotate {describe(api_key)}")
            self.stdout.write(
                f"Dry run: {len(targets)} key(s) would be rotated with grace {grace}. Pass --yes to rotate."
            )
            return
        for api_key in targets:
            try:
                issued = services.api_key_rotate(
                    api_key=api_key, grace=grace_period, actor=Actor.command("rotate_keys")
                )
            except services.KeyNotRotatable as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"rotated {api_key.prefix} -> new key {issued.raw}")
        self.stdout.write(
            f"Rotated {len(targets)} key(s); old keys stop working after {grace}. Store the new keys now."
        )
