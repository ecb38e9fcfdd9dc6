import pytest

from reports.charts import line_chart
from reports.templatetags.dashboard_format import duration, percent, signed_percent


@pytest.fixture
def analytics_store():
    """Charts are drawn from figures, not read from a store."""
    return "django"


def test_a_line_chart_has_one_point_per_value_scaled_from_zero():
    chart = line_chart([("2026-01-01", 0), ("2026-01-02", 10), ("2026-01-03", 5)], width=124, height=148)
    assert [p.label for p in chart.points] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert [p.x for p in chart.points] == [24, 62, 100]
    assert [p.y for p in chart.points] == [124, 24, 74]
    assert chart.polyline == "24.0,124.0 62.0,24.0 100.0,74.0"


def test_an_empty_or_all_zero_series_sits_on_the_baseline():
    assert line_chart([]).points == []
    chart = line_chart([("a", 0), ("b", 0)])
    assert {p.y for p in chart.points} == {chart.baseline}


def test_the_previous_period_shares_the_scale_and_each_x_with_the_current_one():
    chart = line_chart([("d1", 4), ("d2", 2)], previous=[("p1", 8), ("p2", 0), ("p3", 1)], width=124, height=148)
    assert chart.maximum == 8
    assert [(p.x, p.y) for p in chart.points] == [(24, 74), (100, 99)]
    assert [(p.label, p.x, p.y) for p in chart.previous] == [("p1", 24, 24), ("p2", 100, 124)]  # p3 has no day
    assert chart.previous_polyline == "24.0,24.0 100.0,124.0"


def test_gridlines_mark_zero_half_and_the_top():
    chart = line_chart([("a", 10), ("b", 3)], width=124, height=148)
    assert [(line.value, line.y) for line in chart.gridlines] == [(0, 124), (5, 74), (10, 24)]
    assert [line.value for line in line_chart([("a", 0)]).gridlines] == [0]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, "–"),
        (0, "0 s"),
        (59.4, "59 s"),
        (60, "1 min"),
        (359, "6 min"),
        (3600, "1 h"),
        (7300, "2 h 2 min"),
        (172_800, "2 d"),
        (180_000, "2 d 2 h"),
    ],
)
def test_durations_read_as_words(seconds, words):
    assert duration(seconds) == words


def test_changes_read_as_signed_percentages():
    assert [signed_percent(r) for r in (None, 0.126, -0.5, 0.001)] == ["", "+13%", "\u221250%", "0%"]


def test_rates_read_as_percentages_to_one_decimal():
    assert [percent(r) for r in (0, 0.125, 1, 0.3333)] == ["0%", "12.5%", "100%", "33.3%"]
