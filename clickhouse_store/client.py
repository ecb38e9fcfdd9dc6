"""One way to talk to ClickHouse, whichever engine answers: a server over the native protocol
(clickhouse-driver: current servers and Debian's 18.16), or the current engine in process (chdb).

Both backends see the same SQL text: parameters are substituted here, with clickhouse-driver's own
escaping, before either runs the query. And both return the same Python values: int, float, str,
uuid.UUID, None for NULL, datetime.date, aware UTC datetimes, lists for arrays, tuples for tuples.

Datetime parameters are rendered as 'YYYY-MM-DD hh:mm:ss' in UTC; compare them with
toDateTime(%(x)s, 'UTC') when the server's own time zone may not be UTC. The events table keeps
time as Int64 microseconds and needs none of that.
"""

import json
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID
from zoneinfo import ZoneInfo

from clickhouse_driver import Client as DriverClient
from clickhouse_driver import errors as driver_errors
from clickhouse_driver.util.escape import escape_param, escape_params
from django.conf import settings

CHDB_DATABASE = "analytics"
# escape_params formats datetimes in the server's time zone; rendering them in UTC keeps the SQL text
# the same on both backends, whatever zone the server runs in.
_UTC_CONTEXT = SimpleNamespace(server_info=SimpleNamespace(get_timezone=lambda: "UTC"))
_CODE = re.compile(r"Code: (\d+)")


class ClickHouseStoreError(Exception):
    """Anything that went wrong talking to ClickHouse."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class ClickHouseError(ClickHouseStoreError):
    """ClickHouse answered, and refused: bad SQL, a value a column cannot hold, a missing table."""


class ClickHouseUnavailable(ClickHouseStoreError):
    """ClickHouse could not be reached or went away mid-query: worth trying again later."""


def substitute(sql: str, params: dict | None) -> str:
    """%(name)s placeholders filled with escaped literals; without params the text is left as it is
    (so a literal % needs doubling only when there are params, as with clickhouse-driver)."""
    if not params:
        return sql
    return sql % escape_params(params, _UTC_CONTEXT)


def literal(value) -> str:
    return str(escape_param(value, _UTC_CONTEXT))


class Client:
    database: str

    def execute(self, sql: str, params: dict | None = None) -> list[tuple]:
        raise NotImplementedError

    def iter_rows(self, sql: str, params: dict | None = None, chunk: int = 10_000) -> Iterator[tuple]:
        raise NotImplementedError

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence], settings: dict | None = None) -> int:
        """``settings``: the server's query settings for this insert; chdb, never a cluster, has none to take."""
        raise NotImplementedError

    def create_database(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class ServerClient(Client):
    """A ClickHouse server over the native protocol. Not thread-safe, like the driver: client() gives
    each thread its own."""

    def __init__(self, url: str):
        self.url = url
        self.database = urlsplit(url).path.strip("/") or "default"
        self._driver = DriverClient.from_url(url)

    def execute(self, sql: str, params: dict | None = None) -> list[tuple]:
        with _translated_errors():
            rows, types = self._driver.execute(substitute(sql, params), with_column_types=True)
        return self._converted(rows, types)

    def iter_rows(self, sql: str, params: dict | None = None, chunk: int = 10_000) -> Iterator[tuple]:
        finished = False
        try:
            with _translated_errors():
                rows = self._driver.execute_iter(substitute(sql, params), settings={"max_block_size": chunk})
                zone = None
                for row in rows:
                    zone = zone or self._server_zone()  # known once the first block has arrived
                    yield _utc_values(row, zone)
            finished = True
        finally:
            if not finished:
                # The rest of the result is still arriving on this connection, and the driver refuses
                # any other query on it: a fresh one is made at the next query.
                self._driver.disconnect()

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence], settings: dict | None = None) -> int:
        rows = [tuple(row) for row in rows]
        if not rows:
            return 0
        with _translated_errors():
            return self._driver.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", rows, settings=settings)

    def create_database(self) -> None:
        with _translated_errors():
            # The URL's database may not exist yet, and a connection that names it would be refused.
            other = DriverClient.from_url(urlunsplit(urlsplit(self.url)._replace(path="/default")))
            try:
                other.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}")
            finally:
                other.disconnect()

    def close(self) -> None:
        self._driver.disconnect()

    def _server_zone(self) -> ZoneInfo:
        return ZoneInfo(self._driver.connection.server_info.get_timezone())

    def _converted(self, rows: list[tuple], types: list[tuple[str, str]]) -> list[tuple]:
        # The driver returns DateTime values naive, in the server's zone; everything else already matches.
        if not any("DateTime" in kind for _name, kind in types):
            return rows
        zone = self._server_zone()
        return [_utc_values(row, zone) for row in rows]


def _utc_values(value, zone: ZoneInfo):
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=zone)
        return aware.astimezone(UTC)
    if isinstance(value, list):
        return [_utc_values(item, zone) for item in value]
    if isinstance(value, tuple):
        return tuple(_utc_values(item, zone) for item in value)
    return value


class _translated_errors:
    def __enter__(self):
        return self

    def __exit__(self, kind, exc, _traceback):
        if exc is None or isinstance(exc, ClickHouseStoreError):
            return False
        if isinstance(exc, driver_errors.NetworkError | driver_errors.SocketTimeoutError | EOFError | OSError):
            raise ClickHouseUnavailable(str(exc)) from exc
        if isinstance(exc, driver_errors.Error):
            raise ClickHouseError(str(exc), getattr(exc, "code", None)) from exc
        return False


class ChdbClient(Client):
    """The current ClickHouse engine in this process, its data in a directory. chdb allows one
    session (one directory) per process, shared by every thread behind a lock. iter_rows streams,
    holding the lock until its rows are read or it is closed: the session runs one query at a time,
    and any other query ends a stream in progress."""

    database = CHDB_DATABASE

    def __init__(self, path: str):
        from chdb import session  # imported only when used: it loads a 500 MB engine

        self.path = path
        self.url = f"chdb://{path}"
        # Reentrant: a query from the thread that is reading a stream fails (the stream has ended)
        # instead of waiting forever on itself.
        self._lock = threading.RLock()
        try:
            self._session = session.Session(path)
        except Exception as exc:  # chdb raises bare RuntimeErrors for an unusable directory
            raise ClickHouseUnavailable(f"chdb could not open {path}: {exc}") from exc
        for statement in (
            "SET session_timezone = 'UTC'",
            # Unquoted 64-bit integers: Python's JSON reads them exactly.
            "SET output_format_json_quote_64bit_integers = 0",
            f"CREATE DATABASE IF NOT EXISTS {self.database}",
            f"USE {self.database}",
        ):
            self._query(statement)

    def execute(self, sql: str, params: dict | None = None) -> list[tuple]:
        output = self._query(substitute(sql, params), "JSONCompact")
        if not output:  # DDL and inserts print nothing
            return []
        document = json.loads(output)
        decoders = [_decoder(column["type"]) for column in document["meta"]]
        return [tuple(decode(value) for decode, value in zip(decoders, row, strict=True)) for row in document["data"]]

    def iter_rows(self, sql: str, params: dict | None = None, chunk: int = 10_000) -> Iterator[tuple]:
        with self._lock:
            # Each part of a stream is one output block: max_block_size rows, set for this query only
            # (the default, 65k rows, suits aggregation better than an export's memory).
            ((default,),) = self.execute("SELECT getSetting('max_block_size')")
            self._query(f"SET max_block_size = {int(chunk)}")
            try:
                with _chdb_errors():
                    stream = self._session.send_query(substitute(sql, params), _STREAM_FORMAT)
                with _chdb_errors(), stream:  # leaving early cancels the query
                    for part in stream:
                        yield from _stream_rows(part.bytes())
            finally:
                self._query(f"SET max_block_size = {int(default)}")

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence], settings: dict | None = None) -> int:
        values = [f"({', '.join(literal(value) for value in row)})" for row in rows]
        if values:
            # Every value a literal escaped as clickhouse-driver escapes; table and columns are the caller's.
            self._query(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(values)}")  # noqa: S608
        return len(values)

    def create_database(self) -> None:
        pass  # made when the session opens: chdb's database is fixed

    def close(self) -> None:
        pass  # the session lives as long as the process: chdb cannot reopen another directory

    def _query(self, sql: str, fmt: str = "CSV") -> bytes:
        with self._lock, _chdb_errors():
            return self._session.query(sql, fmt).bytes()


# Every part of the stream is a document of its own: the names line, the types line, then a JSON
# array a row.
_STREAM_FORMAT = "JSONCompactEachRowWithNamesAndTypes"


def _stream_rows(part: bytes) -> Iterator[tuple]:
    lines = part.splitlines()
    decoders = [_decoder(kind) for kind in json.loads(lines[1])]
    for line in lines[2:]:
        yield tuple(decode(value) for decode, value in zip(decoders, json.loads(line), strict=True))


class _chdb_errors:
    def __enter__(self):
        return self

    def __exit__(self, kind, exc, _traceback):
        if isinstance(exc, RuntimeError):  # chdb's ChdbError, of which it has two classes of one name
            code = _CODE.search(str(exc))
            raise ClickHouseError(str(exc), int(code[1]) if code else None) from exc
        return False


def _split_arguments(text: str) -> list[str]:
    """Top-level comma-separated arguments of a type, e.g. "UInt8, Array(String)"."""
    parts, depth, start, quoted = [], 0, 0, False
    for position, character in enumerate(text):
        if character == "'":
            quoted = not quoted
        elif not quoted and character == "(":
            depth += 1
        elif not quoted and character == ")":
            depth -= 1
        elif not quoted and character == "," and depth == 0:
            parts.append(text[start:position].strip())
            start = position + 1
    parts.append(text[start:].strip())
    return parts


_NAMED_ELEMENT = re.compile(r"^[A-Za-z_]\w*\s+(?=[A-Z])")


def _decoder(kind: str):
    """A function from a JSONCompact value of this ClickHouse type to the Python value."""
    name, _, rest = kind.partition("(")
    arguments = _split_arguments(rest[:-1]) if rest else []
    if name in ("Nullable", "LowCardinality"):
        inner = _decoder(arguments[0])
        return lambda value: None if value is None else inner(value)
    if name == "Array":
        inner = _decoder(arguments[0])
        return lambda value: [inner(item) for item in value]
    if name == "Tuple":
        inners = [_decoder(_NAMED_ELEMENT.sub("", argument)) for argument in arguments]
        # Named tuples come as objects, in element order.
        return lambda value: tuple(
            inner(item)
            for inner, item in zip(inners, value.values() if isinstance(value, dict) else value, strict=True)
        )
    if name == "Map":
        key, item = _decoder(arguments[0]), _decoder(arguments[1])
        return lambda value: {key(k): item(v) for k, v in value.items()}
    if name == "UUID":
        return UUID
    if name in ("Date", "Date32"):
        return date.fromisoformat
    if name in ("DateTime", "DateTime64"):
        zones = [argument.strip("'") for argument in arguments if argument.startswith("'")]
        zone = ZoneInfo(zones[0]) if zones else UTC  # the session's zone, set to UTC
        return lambda value: datetime.fromisoformat(value).replace(tzinfo=zone).astimezone(UTC)
    if name.startswith(("Int", "UInt")):
        return int  # 128- and 256-bit integers stay quoted
    return lambda value: value


def connect(url: str) -> Client:
    """clickhouse://user:password@host:9000/database (a server) or chdb:///absolute/dir (in process)."""
    scheme = urlsplit(url).scheme
    if scheme == "clickhouse":
        return ServerClient(url)
    if scheme == "chdb":
        return _chdb(urlsplit(url).path)
    raise ClickHouseError(f"CLICKHOUSE_URL must start with clickhouse:// or chdb://, got {url!r}")


def reachable(url: str, *, timeout: float) -> bool:
    """Whether ClickHouse answers a SELECT 1 within ``timeout`` seconds, on a connection of its own."""
    if urlsplit(url).scheme == "clickhouse":
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query)) | {"connect_timeout": timeout, "send_receive_timeout": timeout}
        url = urlunsplit(parts._replace(query=urlencode(query)))
    try:
        probe = connect(url)
        try:
            return probe.execute("SELECT 1") == [(1,)]
        finally:
            probe.close()
    except ClickHouseStoreError:
        return False


_chdb_clients: dict[str, ChdbClient] = {}
_chdb_lock = threading.Lock()


def _chdb(path: str) -> ChdbClient:
    with _chdb_lock:
        if path not in _chdb_clients:
            _chdb_clients[path] = ChdbClient(path)
        return _chdb_clients[path]


_local = threading.local()


def client() -> Client:
    """The client of settings.CLICKHOUSE_URL for this thread (servers) or process (chdb)."""
    url = settings.CLICKHOUSE_URL
    cached = getattr(_local, "client", None)
    if cached is None or cached[0] != url:
        _local.client = (url, connect(url))
    return _local.client[1]


def reset() -> None:
    """Forget this thread's client (tests that change CLICKHOUSE_URL, or after a fork)."""
    cached = getattr(_local, "client", None)
    if cached is not None:
        cached[1].close()
        _local.client = None
