from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apikeys import services
from organisations.audit import Actor


class Command(BaseCommand):
    help = "Create an app with a secret and a publishable key; the keys are printed this once only."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--domain", action="append", default=[], help="Allowed tracker origin; repeatable.")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone for reports (default UTC).")
        parser.add_argument("--site-domain", help="The domain Plausible's tracker sends; unique on this server.")

    def handle(self, *args, name, owner_email, domain, timezone, site_domain, **options):
        try:
            registered = services.app_register(
                name=name,
                owner_email=owner_email,
                domains=domain,
                timezone_name=timezone,
                site_domain=site_domain,
                actor=Actor.command("create_app"),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"app id:          {registered.app.id}")
        self.stdout.write(f"secret key:      {registered.secret_key.raw}")
        self.stdout.write(f"publishable key: {registered.publishable_key.raw}")
        self.stdout.write("Store the keys now; they are not shown again.")
