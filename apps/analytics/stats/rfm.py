"""RFM: quintile scores for recency, frequency and monetary value, and the 11-segment map.

Scores follow the usual practice (Hughes, "Strategic Database Marketing"): 1..5 by quintile, 5
best. Segments use the widely used R × FM grid (R against the rounded mean of F and M), with
the segment names of the common "RFM segment map" (Champions … Lost).
"""

import numpy as np
from scipy.stats import rankdata

__all__ = ["RFM_GRID", "RFM_SEGMENTS", "quintile_scores", "rfm_scores", "rfm_segment"]

RFM_SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)

# Rows: R = 5 (bought most recently) down to R = 1; columns: FM = 1 .. 5.
RFM_GRID: tuple[tuple[str, ...], ...] = (
    # each row lists the segments for FM = 1, 2, 3, 4, 5
    ("new", "potential_loyalist", "loyal", "champions", "champions"),  # R 5
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "champions"),  # R 4
    ("promising", "need_attention", "potential_loyalist", "loyal", "loyal"),  # R 3
    ("hibernating", "about_to_sleep", "need_attention", "at_risk", "cant_lose"),  # R 2
    ("lost", "hibernating", "at_risk", "at_risk", "cant_lose"),  # R 1
)

# Lookup table indexed [r, fm] with 1-based scores (row/column 0 unused).
_LOOKUP = np.full((6, 6), "", dtype=object)
for _row, _segments in enumerate(RFM_GRID):
    for _column, _segment in enumerate(_segments):
        _LOOKUP[5 - _row, _column + 1] = _segment


def quintile_scores(values, *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..5 by quintile of the rank.

    Tie rule: values are ranked with the average rank of their tie group (rank 1 = worst), the
    percentile is rank / n and the score is ceil(5 × percentile). Equal values therefore always
    share a score (the one of the middle of their group). With all values equal (including a
    single value) every score is 3. Empty input gives an empty array; NaN is refused.
    """
    data = np.asarray(values, dtype=float)
    if data.ndim != 1:
        raise ValueError("values must be one-dimensional")
    if data.size == 0:
        return np.zeros(0, dtype=int)
    if not np.isfinite(data).all():
        raise ValueError("values must be finite (no NaN or infinity)")
    if np.all(data == data[0]):
        return np.full(data.size, 3, dtype=int)
    ranks = rankdata(data if higher_is_better else -data, method="average")
    return np.clip(np.ceil(5.0 * ranks / data.size - 1e-9), 1, 5).astype(int)


def rfm_scores(recency_days, frequency, monetary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R, F, M) quintile scores; fewer days since the last purchase gives a higher R."""
    r = quintile_scores(recency_days, higher_is_better=False)
    f = quintile_scores(frequency)
    m = quintile_scores(monetary)
    if not (r.shape == f.shape == m.shape):
        raise ValueError("recency_days, frequency and monetary must have the same length")
    return r, f, m


def rfm_segment(r, f, m) -> np.ndarray:
    """Segment code per customer from RFM_GRID[5 − R][FM − 1], FM = round-half-up((F + M) / 2)."""
    r, f, m = (np.asarray(v, dtype=int) for v in (r, f, m))
    if not (r.shape == f.shape == m.shape):
        raise ValueError("r, f and m must have the same shape")
    for scores in (r, f, m):
        if scores.size and (scores.min() < 1 or scores.max() > 5):
            raise ValueError("scores must be between 1 and 5")
    fm = (f + m + 1) // 2  # integer round-half-up of (f + m) / 2
    return _LOOKUP[r, fm].astype(str)
