"""Is the system getting better or worse? A slope over recent score snapshots, with a dead band.

Least squares over the last `window` snapshots rather than "last minus first", because one noisy
endpoint must not flip the arrow; a dead band (points per minute) keeps a flat-but-noisy score
"stable". Snapshots whose score was undefined (nothing known) are skipped. With fewer than
`min_points` defined snapshots there is nothing to say, and the trend is stable.

Defaults: the last 10 snapshots (10 minutes at the default `snapshot_every` of 1m), dead band
0.5 points/minute — a 5-point move over those 10 minutes is the smallest one called a trend.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

#: Snapshots the trend is fitted on, by the daemon and by `healerd status` alike (defined here, in the
#: pure layer, so status need not import the daemon's service modules to read it).
TREND_WINDOW = 10


class Trend(str, enum.Enum):
    IMPROVING = "improving"
    STABLE = "stable"
    DECLINING = "declining"


@dataclass(frozen=True, slots=True)
class TrendResult:
    trend: Trend
    #: score points per minute; None when there were too few points to fit a line.
    slope_per_min: float | None
    points: int


def compute_trend(
    snapshots: Iterable[tuple[float, float | None]],
    *,
    window: int = TREND_WINDOW,
    dead_band: float = 0.5,
    min_points: int = 3,
) -> TrendResult:
    """`snapshots` are (wall ts, score) pairs in any order; the newest `window` defined ones count."""
    if window < 2 or min_points < 2 or dead_band < 0:
        raise ValueError("window and min_points must be ≥ 2 and dead_band ≥ 0")
    points = sorted((ts, v) for ts, v in snapshots if v is not None)[-window:]
    n = len(points)
    if n < min_points:
        return TrendResult(Trend.STABLE, None, n)
    t0 = points[0][0]
    xs = [(ts - t0) / 60.0 for ts, _ in points]  # minutes since the first point: small, well-conditioned
    ys = [v for _, v in points]
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:  # every snapshot at the same instant: no time axis to fit
        return TrendResult(Trend.STABLE, None, n)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    if slope > dead_band:
        trend = Trend.IMPROVING
    elif slope < -dead_band:
        trend = Trend.DECLINING
    else:
        trend = Trend.STABLE
    return TrendResult(trend, slope, n)
