from django.core.management.base import BaseCommand

from apikeys import services
from apikeys.keys import KeyKind
from apikeys.management.commands._helpers import find_app


class Command(BaseCommand):
    help = "Create a key for an app; it is printed this once only."

    def add_arguments(self, parser):
        parser.add_argument("--app", required=True, help="App id or name.")
        parser.add_argument("--kind", choices=[k.value for k in KeyKind], default=KeyKind.SECRET.value)
        parser.add_argument("--name", default="")
        parser.add_argument("--expires-in-days", type=int, help="0 = never; default API_KEY_TTL_DAYS.")

    def handle(self, *args, app, kind, name, expires_in_days, **options):
        issued = services.api_key_create(app=find_app(app), kind=KeyKind(kind), name=name, ttl_days=expires_in_days)
        self.stdout.write(f"key id: {issued.api_key.id}")
        self.stdout.write(f"key:    {issued.raw}")
        self.stdout.write("Store the key now; it is not shown again.")
