from django.core.management.base import BaseCommand, CommandError

from analytics_project.env import is_rate
from apikeys import services
from apikeys.keys import KeyKind
from apikeys.management.commands._helpers import find_app
from organisations.audit import Actor


class Command(BaseCommand):
    help = "Create a key for an app; it is printed this once only."

    def add_arguments(self, parser):
        parser.add_argument("--app", required=True, help="App id or name.")
        parser.add_argument("--kind", choices=[k.value for k in KeyKind], default=KeyKind.SECRET.value)
        parser.add_argument("--name", default="")
        parser.add_argument("--expires-in-days", type=int, help="0 = never; default API_KEY_TTL_DAYS.")
        # Operators may set any rate, above the server's too; the API only allows lower ones.
        parser.add_argument("--ingest-rate", default="", help="This key's ingestion limit, e.g. 50000/m.")
        parser.add_argument("--report-rate", default="", help="This key's report limit, e.g. 3000/m.")

    def handle(self, *args, app, kind, name, expires_in_days, ingest_rate, report_rate, **options):
        for option, rate in (("--ingest-rate", ingest_rate), ("--report-rate", report_rate)):
            if rate and not is_rate(rate):
                raise CommandError(f"{option} {rate!r} is not a rate such as 600/m or 20/h.")
        issued = services.api_key_create(
            app=find_app(app),
            kind=KeyKind(kind),
            name=name,
            ttl_days=expires_in_days,
            ingest_rate=ingest_rate,
            report_rate=report_rate,
            actor=Actor.command("create_key"),
        )
        self.stdout.write(f"key id: {issued.api_key.id}")
        self.stdout.write(f"key:    {issued.raw}")
        self.stdout.write("Store the key now; it is not shown again.")
