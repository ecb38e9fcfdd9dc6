"""Server-drawn SVG charts for the dashboard: no JavaScript, no build step, readable as plain markup."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPoint:
    label: str
    value: int
    x: float
    y: float


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: list[ChartPoint]
    maximum: int

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in self.points)

    @property
    def baseline(self) -> float:
        return self.height - LineChart.PADDING

    PADDING = 24


def line_chart(series: list[tuple[str, int]], *, width: int = 720, height: int = 200) -> LineChart:
    """Scale (label, value) pairs into the chart box.

    The y axis starts at zero, so small changes do not look dramatic.
    """
    padding = LineChart.PADDING
    maximum = max((value for _, value in series), default=0)
    span_x = width - 2 * padding
    span_y = height - 2 * padding
    step = span_x / (len(series) - 1) if len(series) > 1 else 0
    points = [
        ChartPoint(
            label=label,
            value=value,
            x=padding + index * step if len(series) > 1 else width / 2,
            y=padding + span_y * (1 - (value / maximum if maximum else 0)),
        )
        for index, (label, value) in enumerate(series)
    ]
    return LineChart(width=width, height=height, points=points, maximum=maximum)
