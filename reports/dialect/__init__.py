"""The SQL the reports' statements differ in from one store to the next, in one place.

Every report is a parameterised statement assembled from fragments its Dialect spells for the store
(time arithmetic, local calendar buckets, JSON access, substring search, collation); the few statements
that need common table expressions or window functions, which ClickHouse's old server lacks, are whole
Dialect methods: in standard SQL for the Django databases (standard.py), with arrays on ClickHouse
(clickhouse.py).

Reports read the Django database (PostgreSQL or SQLite) unless ANALYTICS_STORE is ``clickhouse``.
"""

from django.conf import settings
from django.db import connection

from reports.dialect.base import Dialect, Fragment
from reports.dialect.django import PostgreSQL, SQLite

__all__ = ["Dialect", "Fragment", "current"]


def current(app_id=None) -> Dialect:
    """The dialect of the store reports read, for a report of ``app_id`` when it counts persons."""
    if getattr(settings, "ANALYTICS_STORE", "postgresql") == "clickhouse":
        # Imported only here: installs without ClickHouse never load its driver.
        from reports.dialect.clickhouse import ClickHouse

        dialect = ClickHouse.for_settings()
    elif connection.vendor == "postgresql":
        dialect = PostgreSQL()
    elif connection.vendor == "sqlite":
        dialect = SQLite()
    else:
        raise NotImplementedError(f"reports support PostgreSQL, SQLite and ClickHouse, not {connection.vendor}")
    dialect.app_id = app_id
    return dialect
