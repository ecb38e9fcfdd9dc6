from django.core.management.base import BaseCommand

from apikeys.management.commands._helpers import describe, find_app
from apikeys.models import ApiKey
from apikeys.selectors import app_keys_list


class Command(BaseCommand):
    help = "List keys (masked) with their status, expiry and last use."

    def add_arguments(self, parser):
        parser.add_argument("--app", help="Only this app's keys (id or name).")

    def handle(self, *args, app, **options):
        keys = (
            app_keys_list(app=find_app(app))
            if app
            else ApiKey.objects.select_related("app").order_by("app__name", "-created_at")
        )
        for api_key in keys:
            last_used = api_key.last_used_at.isoformat() if api_key.last_used_at else "never"
            self.stdout.write(f"{api_key.id}  {describe(api_key)}  last_used={last_used}")
