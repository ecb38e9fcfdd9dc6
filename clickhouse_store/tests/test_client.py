import tracemalloc
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from clickhouse_store.client import ClickHouseError, ClickHouseUnavailable, connect, substitute

AWKWARD = "it's a \\ back\tslash\nline ünïcode 🎉 %s"


def test_values_come_back_as_the_same_python_types_on_both_engines(clickhouse):
    (row,) = clickhouse.execute(
        "SELECT toInt64(-9223372036854775808), toUInt64(18446744073709551615), 'text', "
        "toUUID('6f1c2a9e-52c4-4b9f-8d33-1e2f3a4b5c6d'), CAST(NULL AS Nullable(String)), "
        "CAST('x' AS Nullable(String)), toDate('2024-02-29'), toDateTime('2024-03-31 01:30:00', 'UTC'), "
        "toDateTime('2024-03-31 03:30:00', 'Europe/Berlin'), [1, 2, 3], ['a', 'b'], (1, 'a'), [(1, 'x')], 1.5"
    )
    assert row == (
        -(2**63),
        2**64 - 1,
        "text",
        UUID("6f1c2a9e-52c4-4b9f-8d33-1e2f3a4b5c6d"),
        None,
        "x",
        date(2024, 2, 29),
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
        [1, 2, 3],
        ["a", "b"],
        (1, "a"),
        [(1, "x")],
        1.5,
    )
    assert [type(value) for value in row[:4]] == [int, int, str, UUID]
    assert row[7].tzinfo is not None


def test_parameters_are_escaped_literals_and_come_back_unchanged(clickhouse):
    app = uuid4()
    params = {"text": AWKWARD, "app": app, "none": None, "list": ["a'b", "c"], "when": date(2024, 1, 2), "n": 7}
    (row,) = clickhouse.execute(
        "SELECT %(text)s, toUUID(%(app)s), %(none)s, %(list)s, toDate(%(when)s), %(n)s + 1, '100%%'", params
    )
    assert row == (AWKWARD, app, None, ["a'b", "c"], date(2024, 1, 2), 8, "100%")


def test_both_engines_are_sent_the_same_text_for_the_same_parameters():
    sql = "SELECT %(text)s, %(when)s"
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert substitute(sql, {"text": "a'b", "when": when}) == "SELECT 'a\\'b', '2024-01-02 03:04:05'"
    assert substitute("SELECT '100%'", None) == "SELECT '100%'"


def test_insert_stores_rows_and_iter_rows_reads_them_back(clickhouse):
    table = f"{clickhouse.database}.scratch"
    clickhouse.execute(f"DROP TABLE IF EXISTS {table}")
    clickhouse.execute(
        f"CREATE TABLE {table} (id UInt64, id_uuid UUID, text String, maybe Nullable(String), day Date) "
        "ENGINE = MergeTree ORDER BY id"
    )
    rows = [(n, uuid4(), f"{AWKWARD}{n}", None if n % 2 else str(n), date(2024, 1, 1 + n)) for n in range(25)]
    assert clickhouse.insert(table, ("id", "id_uuid", "text", "maybe", "day"), rows) == 25
    assert clickhouse.insert(table, ("id",), []) == 0
    assert list(clickhouse.iter_rows(f"SELECT * FROM {table} ORDER BY id", chunk=10)) == rows  # noqa: S608
    clickhouse.execute(f"DROP TABLE {table}")


def test_iter_rows_streams_a_large_result_in_flat_memory(clickhouse):
    # 200k rows read at once take about 40 MiB of Python objects; streamed, one chunk's worth.
    sql = "SELECT number, concat('row ', toString(number), %(padding)s) FROM system.numbers LIMIT 200000"
    tracemalloc.start()
    try:
        count = total = 0
        for number, text in clickhouse.iter_rows(sql, {"padding": "x" * 50}, chunk=5000):
            count, total = count + 1, total + number
            assert text.startswith(f"row {number}x")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, total) == (200_000, 200_000 * 199_999 // 2)
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_a_stream_left_half_read_leaves_the_engine_usable(clickhouse):
    rows = clickhouse.iter_rows("SELECT number FROM system.numbers LIMIT 100000", chunk=1000)
    assert next(rows) == (0,)
    rows.close()
    assert clickhouse.execute("SELECT 1") == [(1,)]
    (block_size,) = clickhouse.execute("SELECT toUInt64(value) FROM system.settings WHERE name = 'max_block_size'")
    assert block_size > (1000,)  # chdb's session setting is restored


def test_bad_sql_is_a_clickhouse_error_with_its_code(clickhouse):
    with pytest.raises(ClickHouseError) as raised:
        clickhouse.execute("SELECT no_such_column FROM system.one")
    assert raised.value.code == 47  # UNKNOWN_IDENTIFIER
    with pytest.raises(ClickHouseError) as raised:
        list(clickhouse.iter_rows("SELECT no_such_column FROM system.one"))
    assert raised.value.code == 47


def test_a_server_nobody_listens_on_is_unavailable():
    client = connect("clickhouse://default@127.0.0.1:1/analytics?connect_timeout=1")
    with pytest.raises(ClickHouseUnavailable):
        client.execute("SELECT 1")


def test_an_unknown_scheme_is_refused():
    with pytest.raises(ClickHouseError, match="clickhouse:// or chdb://"):
        connect("postgresql://localhost/analytics")
