"""The dashboard's presets and comparisons, against the calendar worked out by hand."""

from datetime import date

import pytest

from reports.periods import PRESETS, change, chart_interval, preset_days, previous_days


@pytest.fixture
def analytics_store():
    """Plain functions: no store to run on."""
    return "none"


@pytest.mark.parametrize(
    ("preset", "today", "first", "last"),
    [
        ("today", date(2024, 3, 1), date(2024, 3, 1), date(2024, 3, 1)),
        ("yesterday", date(2024, 3, 1), date(2024, 2, 29), date(2024, 2, 29)),  # a leap day
        ("7d", date(2024, 3, 3), date(2024, 2, 26), date(2024, 3, 3)),
        ("30d", date(2024, 1, 15), date(2023, 12, 17), date(2024, 1, 15)),
        ("month", date(2024, 3, 31), date(2024, 3, 1), date(2024, 3, 31)),
        ("lastmonth", date(2024, 3, 31), date(2024, 2, 1), date(2024, 2, 29)),
        ("lastmonth", date(2024, 1, 10), date(2023, 12, 1), date(2023, 12, 31)),  # across a year
        ("12mo", date(2024, 3, 15), date(2023, 4, 1), date(2024, 3, 15)),
        ("12mo", date(2024, 11, 2), date(2023, 12, 1), date(2024, 11, 2)),
    ],
)
def test_each_preset_covers_the_days_its_name_says(preset, today, first, last):
    assert preset_days(preset, today) == (first, last)


def test_every_offered_preset_resolves_and_an_unknown_one_is_refused():
    assert all(preset_days(preset, date(2024, 6, 30)) for preset in PRESETS)
    with pytest.raises(KeyError):
        preset_days("forever", date(2024, 6, 30))


def test_the_previous_period_is_as_long_and_ends_the_day_before():
    assert previous_days(date(2024, 3, 1), date(2024, 3, 7)) == (date(2024, 2, 23), date(2024, 2, 29))
    assert previous_days(date(2024, 3, 1), date(2024, 3, 1)) == (date(2024, 2, 29), date(2024, 2, 29))


def test_the_chart_is_hourly_for_short_ranges_and_monthly_for_long_ones():
    assert chart_interval(date(2024, 3, 1), date(2024, 3, 2)) == "hour"
    assert chart_interval(date(2024, 3, 1), date(2024, 3, 3)) == "day"
    assert chart_interval(date(2024, 1, 1), date(2024, 4, 1)) == "day"  # 92 days
    assert chart_interval(date(2024, 1, 1), date(2024, 4, 2)) == "month"


def test_change_is_relative_and_none_without_a_previous_figure():
    assert (change(150, 100), change(50, 100), change(5, 0)) == (0.5, -0.5, None)
