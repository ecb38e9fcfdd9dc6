import redis
from django.conf import settings
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError
from django_redis.cache import RedisCache

from events import buffer

# replay_dead_letters reads at most this many; listing as many keeps the dry run and the replay in step.
MOST_LETTERS = 10_000


class Command(BaseCommand):
    help = (
        "The ingestion queue (INGEST_MODE=buffered): mode, length, pending, lag, workers and dead letters. "
        "--replay [ID ...] requeues dead letters (all without ids); a dry run unless --yes is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--replay", nargs="*", metavar="ID", help="Requeue these dead letters, or all.")
        parser.add_argument("--yes", action="store_true", help="Replay; without it --replay is a dry run.")

    def handle(self, *args, replay, yes, **options):
        self.stdout.write(f"mode: {settings.INGEST_MODE}")
        if not isinstance(caches["default"], RedisCache):
            if replay is not None:
                raise CommandError("There are no dead letters without Redis: set REDIS_URL.")
            self.stdout.write("no ingestion queue: it lives in Redis, and REDIS_URL is unset")
            return
        client = buffer.web_client()
        try:
            letters = buffer.dead_letters(client, limit=MOST_LETTERS)
            if replay is None:
                self._status(client, letters)
            else:
                self._replay(client, letters, replay, yes)
        except redis.RedisError as exc:
            raise CommandError(f"Redis is unreachable ({exc.__class__.__name__}).") from None

    def _status(self, client, letters: list[buffer.DeadLetter]) -> None:
        status = buffer.buffer_status(client)
        self.stdout.write(
            f"queue: {status.length} entries, {status.pending} pending, lag {status.oldest_age_seconds:.1f} s"
        )
        self.stdout.write(f"workers seen in the last minute: {status.workers_seen}")
        self.stdout.write(f"dead letters: {status.dead_letters}")
        for letter in letters:
            self.stdout.write(f"  {_describe(letter)}  {' '.join(letter.reason.split())}")

    def _replay(self, client, letters: list[buffer.DeadLetter], ids: list[str], yes: bool) -> None:
        unknown = set(ids) - {letter.id for letter in letters}
        if unknown:
            raise CommandError(f"No dead letter with id {', '.join(sorted(unknown))}.")
        chosen = [letter for letter in letters if not ids or letter.id in ids]
        if not chosen:
            self.stdout.write("No dead letters to replay.")
            return
        rows = sum(letter.count for letter in chosen)
        if not yes:
            for letter in chosen:
                self.stdout.write(f"would replay {_describe(letter)}")
            self.stdout.write(f"Dry run: {len(chosen)} dead letter(s), {rows} event(s). Pass --yes to replay.")
            return
        requeued = buffer.replay_dead_letters(client, [letter.id for letter in chosen])
        self.stdout.write(f"Requeued {requeued} event(s) from {len(chosen)} dead letter(s) for the workers to store.")


def _describe(letter: buffer.DeadLetter) -> str:
    return f"{letter.id}  app {letter.app_id}  {letter.count} event(s)"
