"""One user's events in time order, grouped into sessions, a page at a time."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from persons.selectors import distinct_ids_of
from reports.dialect import current

MAX_JOURNEY_LIMIT = 1000
SESSION_GAP_SECONDS = 30 * 60


@dataclass(frozen=True)
class JourneyEvent:
    event_id: str
    name: str
    timestamp: datetime
    url: str
    path: str
    metadata: dict


@dataclass(frozen=True)
class JourneySession:
    index: int
    start: datetime
    end: datetime
    duration_seconds: float
    entry_page: str
    exit_page: str
    event_count: int
    events: list[JourneyEvent]


@dataclass(frozen=True)
class Journey:
    distinct_id: str
    sessions: list[JourneySession]
    next_cursor: str | None


def encode_cursor(timestamp: datetime, event_pk: int) -> str:
    raw = json.dumps([timestamp.astimezone(UTC).isoformat(), event_pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (timestamp, id) a page ended at; ValueError for anything this module did not write."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment_text, event_pk = json.loads(raw)
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None or type(event_pk) is not int or not 0 < event_pk < 2**63:  # a bigint id
            raise ValueError("invalid cursor")
        # In UTC, as written: a crafted offset past PostgreSQL's ±15:59 would fail the query.
        return moment.astimezone(UTC), event_pk
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError, AttributeError, OverflowError):
        raise ValueError("invalid cursor") from None


def journey(*, app_id, distinct_id: str, cursor: str | None, limit: int) -> Journey | None:
    """One page of a user's events in time order (ties in arrival order), grouped into sessions.

    A session ends after more than 30 minutes without an event (exactly 30 minutes stays in it).
    Sessions are numbered over the user's whole history and their figures cover the whole session, so a
    session cut by a page boundary reads the same on both pages. None when the app never saw the user.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_JOURNEY_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_JOURNEY_LIMIT}")
    after = decode_cursor(cursor) if cursor is not None else None
    dialect = current()
    distinct_ids = distinct_ids_of(app_id, distinct_id)
    rows = dialect.journey_rows(app_id, distinct_ids, after, limit + 1, gap_seconds=SESSION_GAP_SECONDS)
    if not rows:
        of_person, params = dialect.of_person(app_id, distinct_ids)
        if not dialect.fetch(f"SELECT 1 {of_person} LIMIT 1", params):
            return None

    page, more = rows[:limit], len(rows) > limit
    sessions: list[JourneySession] = []
    for _pk, event_id, name, moment, url, path, metadata, number, first, last, count, entry, exit_page in page:
        if not sessions or sessions[-1].index != number:
            first, last = dialect.to_timestamp(first), dialect.to_timestamp(last)
            sessions.append(
                JourneySession(
                    index=int(number),
                    start=first,
                    end=last,
                    duration_seconds=(last - first).total_seconds(),
                    entry_page=entry or "",
                    exit_page=exit_page or "",
                    event_count=count,
                    events=[],
                )
            )
        sessions[-1].events.append(
            JourneyEvent(
                event_id=str(dialect.to_uuid(event_id)),
                name=name,
                timestamp=dialect.to_timestamp(moment),
                url=url,
                path=path,
                metadata=dialect.to_json(metadata),
            )
        )
    next_cursor = None
    if more:
        last_row = page[-1]
        next_cursor = encode_cursor(dialect.to_timestamp(last_row[3]), last_row[0])
    return Journey(distinct_id=distinct_id, sessions=sessions, next_cursor=next_cursor)
