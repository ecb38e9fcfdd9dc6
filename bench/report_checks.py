"""Are the ClickHouse reports exact? Their numbers against the PostgreSQL store's for the same data
(when both are loaded), and against figures computed independently of the reports' SQL: plain
count()/uniqExact over the raw events table, and the funnel followed event by event in Python."""

import itertools
import json
import math
import statistics

from clickhouse_store.client import Client
from clickhouse_store.rows import microseconds
from reports.params import Window


def same(left, right) -> bool:
    """Equal JSON, floats compared to 1e-9 (a median or a ratio may differ in its last bit)."""
    if isinstance(left, float) or isinstance(right, float):
        numbers = isinstance(left, int | float) and isinstance(right, int | float)
        return numbers and math.isclose(left, right, rel_tol=1e-9)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return left == right


class Direct:
    """Figures straight from the raw table, for one app and window."""

    def __init__(self, client: Client, app_id, window: Window):
        self.client = client
        self.table = f"{client.database}.events"
        self.where = "app_id = %(app)s AND timestamp_us >= %(start)s AND timestamp_us < %(end)s"
        self.params = {"app": app_id, "start": microseconds(window.start), "end": microseconds(window.end)}
        self.window = window

    def _query(self, select: str, tail: str = "", **params) -> list[tuple]:
        sql = f"SELECT {select} FROM {self.table} WHERE {self.where} {tail}"
        return self.client.execute(sql, {**self.params, **params})

    def summary(self, body: dict) -> bool:
        [(count, users)] = self._query("count(), uniqExact(distinct_id)")
        return (body["count"], body["uniqueUsers"]) == (count, users)

    def daily(self, body: list) -> bool:
        rows = self._query(
            "toString(toDate(toDateTime(intDiv(timestamp_us, 1000000)), %(tz)s)) AS day, "
            "count(), uniqExact(distinct_id)",
            "GROUP BY day",
            tz=self.window.tz.key,
        )
        found = {day: (count, users) for day, count, users in rows}
        days = [str(day) for day in self.window.days()]
        return [(row["date"], row["count"], row["uniqueUsers"]) for row in body] == [
            (day, *found.get(day, (0, 0))) for day in days
        ]

    def ranking(self, column: str, values: list, *, nonempty: bool = False) -> bool:
        """Every listed value's events and users as counted here, and the top counts the top ones."""
        condition = f"AND {column} != ''" if nonempty else ""
        rows = self._query(f"{column}, count(), uniqExact(distinct_id)", f"{condition} GROUP BY {column}")
        found = {value or None: (count, users) for value, count, users in rows}
        listed = all(found.get(row["value"]) == (row["count"], row["uniqueUsers"]) for row in values)
        top = sorted((count for count, _ in found.values()), reverse=True)[: len(values)]
        return listed and [row["count"] for row in values] == top

    def funnel(self, body: dict, steps: tuple[str, ...], window_seconds: int) -> bool:
        """The ordered funnel followed user by user: entry at the first step-1 event, then each step's
        first event strictly after the previous step's, at most window_seconds after the entry."""
        rows = self.client.iter_rows(
            f"SELECT distinct_id, name, timestamp_us FROM {self.table} WHERE {self.where} "
            "AND name IN %(names)s ORDER BY distinct_id, timestamp_us, seq",
            {**self.params, "names": tuple(steps)},
            chunk=100_000,
        )
        reached = [0] * len(steps)
        took: list[list[int]] = [[] for _ in steps]
        for _, events in itertools.groupby(rows, key=lambda row: row[0]):
            times = {name: [] for name in steps}
            for _, name, moment in events:
                times[name].append(moment)
            if not times[steps[0]]:
                continue
            entry = previous = times[steps[0]][0]
            reached[0] += 1
            for number, name in enumerate(steps[1:], start=1):
                later = [moment for moment in times[name] if previous < moment <= entry + window_seconds * 1_000_000]
                if not later:
                    break
                took[number].append(later[0] - previous)
                previous = later[0]
                reached[number] += 1
        medians = [None] + [statistics.median(deltas) / 1e6 if deltas else None for deltas in took[1:]]
        return same(
            [[step["count"], step["medianSecondsToConvert"]] for step in body["steps"]],
            [[count, median] for count, median in zip(reached, medians, strict=True)],
        )


def clickhouse_exact(direct: Direct, bodies: dict[str, bytes], funnel_steps: tuple[str, ...], window_seconds: int):
    parsed = {name: json.loads(body) for name, body in bodies.items()}
    return {
        "event-summary": direct.summary(parsed["event-summary"]),
        "daily-stats": direct.daily(parsed["daily-stats"]),
        "top-pages": direct.ranking("path", parsed["top-pages"], nonempty=True),
        "breakdown?by=browser": direct.ranking("browser", parsed["breakdown?by=browser"]["values"]),
        "funnel (3 steps)": direct.funnel(parsed["funnel (3 steps)"], funnel_steps, window_seconds),
    }
