"""Every report, one module per concept (SPEC §5): summary, series, rankings, active users, funnels,
retention, journeys, live and export.

Each report takes an app id and a ``Window`` (or, for one user's history and the live view, what it
needs instead), runs its aggregation in the store as parameterised SQL through a ``Dialect``
(reports/dialect.py), and returns plain dataclasses. Python only validates input, fills the empty
buckets of a series and shapes already-aggregated rows. Every statement filters on the app first, so
the (app, ...) indexes serve it and no tenant can see another's rows.
"""
