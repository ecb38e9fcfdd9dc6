import pytest

from reports.charts import line_chart


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
