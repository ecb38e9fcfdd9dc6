from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apikeys.management.commands._helpers import find_app
from clickhouse_store.client import ClickHouseStoreError
from events.services import events_purge, events_purge_count


class Command(BaseCommand):
    help = "Delete events before a date (UTC midnight, or an ISO datetime). Dry run unless --yes."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="e.g. 2025-01-01 or 2025-01-01T12:00:00+02:00")
        parser.add_argument("--app", help="Only this app (id or name).")
        parser.add_argument("--batch-size", type=int, default=10_000, help="Rows per DELETE (the Django database).")
        parser.add_argument("--yes", action="store_true", help="Delete; without it this is a dry run.")

    def handle(self, *args, before, app, batch_size, yes, **options):
        if batch_size < 1:  # 0 would delete nothing yet report success; a negative slice is an ORM error
            raise CommandError(f"--batch-size must be at least 1, got {batch_size}.")
        cutoff = _parse_cutoff(before)
        target = find_app(app) if app else None
        where = f"app {target.name!r}" if target else "all apps"
        try:
            if not yes:
                count = events_purge_count(before=cutoff, app=target)
                self.stdout.write(f"would delete {count:,} events before {cutoff.isoformat()} in {where}")
                self.stdout.write("Dry run: pass --yes to delete.")
                return
            deleted = events_purge(before=cutoff, app=target, batch_size=batch_size)
        except ClickHouseStoreError as exc:
            raise CommandError(f"ClickHouse: {exc}") from exc
        self.stdout.write(f"deleted {deleted:,} events before {cutoff.isoformat()} in {where}")


def _parse_cutoff(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--before {value!r} is not a date or ISO datetime.") from None
    if len(value) <= 10:  # a date: its midnight UTC
        parsed = datetime.combine(parsed.date(), time.min)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
