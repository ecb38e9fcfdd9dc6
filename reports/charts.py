"""Server-drawn SVG charts for the dashboard: no JavaScript, no build step, readable as plain markup."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChartPoint:
    label: str
    value: int
    x: float
    y: float


@dataclass(frozen=True)
class Gridline:
    value: int
    y: float


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: list[ChartPoint]
    maximum: int
    previous: list[ChartPoint] = field(default_factory=list)  # the period before, point for point

    @property
    def polyline(self) -> str:
        return _polyline(self.points)

    @property
    def previous_polyline(self) -> str:
        return _polyline(self.previous)

    @property
    def baseline(self) -> float:
        return self.height - LineChart.PADDING

    @property
    def gridlines(self) -> list[Gridline]:
        """Zero, half and the top of the scale (just zero when everything is)."""
        span_y = self.height - 2 * LineChart.PADDING
        values = sorted({0, self.maximum // 2, self.maximum}) if self.maximum else [0]
        return [Gridline(value, LineChart.PADDING + span_y * (1 - value / (self.maximum or 1))) for value in values]

    PADDING = 24


def _polyline(points: list[ChartPoint]) -> str:
    return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in points)


def line_chart(
    series: list[tuple[str, int]], *, previous: list[tuple[str, int]] = (), width: int = 720, height: int = 200
) -> LineChart:
    """Scale (label, value) pairs into the chart box, and the previous period's beside them, its n-th
    point at the n-th point's x (so each day is drawn against the day as far into the period before).

    The y axis starts at zero, so small changes do not look dramatic.
    """
    padding = LineChart.PADDING
    maximum = max((value for _, value in [*series, *previous]), default=0)
    span_x = width - 2 * padding
    span_y = height - 2 * padding
    step = span_x / (len(series) - 1) if len(series) > 1 else 0

    def scaled(pairs) -> list[ChartPoint]:
        return [
            ChartPoint(
                label=label,
                value=value,
                x=padding + index * step if len(series) > 1 else width / 2,
                y=padding + span_y * (1 - (value / maximum if maximum else 0)),
            )
            for index, (label, value) in enumerate(pairs[: len(series)])
        ]

    return LineChart(width=width, height=height, points=scaled(series), maximum=maximum, previous=scaled(previous))
