"""The dashboard's date presets, the period before a range (for comparisons), and the chart's interval."""

from datetime import date, timedelta

# The presets in the order the dashboard offers them; each gives its first and last local day.
PRESETS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
    "lastmonth": "Last month",
    "12mo": "Last 12 months",
}
DEFAULT_PRESET = "30d"
HOURLY_UP_TO_DAYS = 2
DAILY_UP_TO_DAYS = 92


def preset_days(preset: str, today: date) -> tuple[date, date]:
    """The first and last day of a preset, ``today`` being the app's local date. Raises KeyError."""
    first_of_month = today.replace(day=1)
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if preset in ("7d", "30d"):
        return today - timedelta(days=int(preset[:-1]) - 1), today
    if preset == "month":
        return first_of_month, today
    if preset == "lastmonth":
        last = first_of_month - timedelta(days=1)
        return last.replace(day=1), last
    if preset == "12mo":
        year, month = divmod(first_of_month.year * 12 + first_of_month.month - 1 - 11, 12)
        return date(year, month + 1, 1), today
    raise KeyError(preset)


def previous_days(first: date, last: date) -> tuple[date, date]:
    """The range as long as [first, last] that ends the day before it starts."""
    length = (last - first).days + 1
    return first - timedelta(days=length), first - timedelta(days=1)


def chart_interval(first: date, last: date) -> str:
    """Hours for a day or two, days up to a quarter, months beyond."""
    days = (last - first).days + 1
    if days <= HOURLY_UP_TO_DAYS:
        return "hour"
    return "day" if days <= DAILY_UP_TO_DAYS else "month"


def change(current: float, previous: float) -> float | None:
    """The relative change from ``previous`` to ``current``; None when there was nothing before."""
    return (current - previous) / previous if previous else None
