import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.worker import IngestWorker


class Command(BaseCommand):
    help = (
        "Store buffered events (INGEST_MODE=buffered) from the Redis Stream into the event store, in batches. "
        "Run as many as the load needs; SIGTERM finishes the flush in hand first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--until-empty", action="store_true", help="Stop once nothing is left to store.")

    def handle(self, *args, until_empty, **options):
        if not settings.REDIS_URL:
            raise CommandError("The ingest worker reads the queue in Redis: set REDIS_URL (and INGEST_MODE=buffered).")
        worker = IngestWorker()
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        self.stdout.write(f"ingest worker {worker.consumer}: storing buffered events")
        worker.run(until_empty=until_empty)
        self.stdout.write(f"ingest worker {worker.consumer}: stopped")
