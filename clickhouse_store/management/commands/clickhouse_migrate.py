from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clickhouse_store import schema
from clickhouse_store.client import ClickHouseStoreError, connect


class Command(BaseCommand):
    help = "Bring the ClickHouse database of CLICKHOUSE_URL to the latest schema (creating it if missing)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Change nothing; exit 1 unless the schema is the latest."
        )

    def handle(self, *args, check, **options):
        if not settings.CLICKHOUSE_URL:
            raise CommandError("CLICKHOUSE_URL is not set.")
        try:
            client = connect(settings.CLICKHOUSE_URL)
            if check:
                self._check(client)
                return
            days = settings.CLICKHOUSE_TTL_DAYS
            if days and schema.server_version(client) < schema.TTL_SINCE:
                raise CommandError(
                    f"CLICKHOUSE_TTL_DAYS={days} needs ClickHouse 19.6 or later (TTL), and this server is "
                    f"{'.'.join(map(str, schema.server_version(client)))}: set it to 0 and run "
                    "`manage.py purge_events --before <date> --yes` on a schedule instead."
                )
            for migration in schema.migrate(client, cluster=settings.CLICKHOUSE_CLUSTER or None):
                self.stdout.write(f"applied {migration.version:04d}_{migration.name}")
            if days and schema.set_ttl(client, days):
                self.stdout.write(f"events are kept {days} days (TTL)")
        except ClickHouseStoreError as exc:
            raise CommandError(f"ClickHouse: {exc}") from exc
        self.stdout.write(f"{client.database} is at version {schema.LATEST:04d}")

    def _check(self, client) -> None:
        missing = schema.pending(client)
        if missing:
            names = ", ".join(f"{migration.version:04d}_{migration.name}" for migration in missing)
            raise CommandError(f"{client.database} is not at the latest schema version; pending: {names}")
        self.stdout.write(f"{client.database} is at version {schema.LATEST:04d}")
