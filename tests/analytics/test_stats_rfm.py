"""RFM quintile scores and the 11-segment map."""

import numpy as np
import pytest

from apps.analytics.stats.rfm import (
    RFM_GRID,
    RFM_SEGMENTS,
    quintile_scores,
    rfm_scores,
    rfm_segment,
)


def test_quintiles_of_distinct_values():
    np.testing.assert_array_equal(quintile_scores(np.arange(1, 11)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    np.testing.assert_array_equal(quintile_scores([30, 10, 20]), [5, 2, 4])
    np.testing.assert_array_equal(
        quintile_scores([5, 4, 3, 2, 1], higher_is_better=False), [1, 2, 3, 4, 5]
    )


def test_ties_share_a_score():
    np.testing.assert_array_equal(quintile_scores([10, 20, 20, 20, 30]), [1, 3, 3, 3, 5])
    scores = quintile_scores([0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
    assert len(set(scores[:6])) == 1
    np.testing.assert_array_equal(scores, [2, 2, 2, 2, 2, 2, 4, 4, 5, 5])


def test_edge_cases():
    assert quintile_scores([]).size == 0
    np.testing.assert_array_equal(quintile_scores([7, 7, 7]), [3, 3, 3])
    np.testing.assert_array_equal(quintile_scores([7]), [3])
    with pytest.raises(ValueError):
        quintile_scores([1.0, np.nan])


def test_rfm_scores_reward_recent_customers():
    r, f, m = rfm_scores([1, 100, 50], [5, 1, 2], [500.0, 10.0, 50.0])
    np.testing.assert_array_equal(r, [5, 2, 4])
    np.testing.assert_array_equal(f, [5, 2, 4])
    np.testing.assert_array_equal(m, [5, 2, 4])


def test_grid_is_complete_and_uses_every_segment():
    assert len(RFM_GRID) == 5
    assert all(len(row) == 5 for row in RFM_GRID)
    cells = {}
    for r in range(1, 6):
        for fm in range(1, 6):
            segment = rfm_segment([r], [fm], [fm])[0]
            assert segment in RFM_SEGMENTS
            cells[(r, fm)] = segment
    assert len(cells) == 25
    assert set(cells.values()) == set(RFM_SEGMENTS)
    assert cells[(5, 5)] == "champions"
    assert cells[(5, 1)] == "new"
    assert cells[(1, 1)] == "lost"
    assert cells[(1, 5)] == "cant_lose"


def test_segment_uses_round_half_up_of_f_and_m():
    # (4 + 5) / 2 = 4.5 -> 5: R 4 & FM 5 is champions; (4 + 3) / 2 = 3.5 -> 4: R 4 & FM 4 loyal.
    np.testing.assert_array_equal(
        rfm_segment([4, 4, 3], [4, 4, 1], [5, 3, 2]), ["champions", "loyal", "need_attention"]
    )
    with pytest.raises(ValueError):
        rfm_segment([6], [1], [1])
