"""ACC, BWT, FWT and per-task forgetting against hand-computed matrices, edge cases included."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.measures.metrics import average_accuracy, backward_transfer, forward_transfer, task_forgetting

NAN = math.nan
# three tasks learned at stages 0, 1, 2; row i = after stage i
R = [[0.90, 0.05, 0.00],
     [0.60, 0.95, 0.10],
     [0.40, 0.70, 0.85]]
B = [0.00, 0.02, 0.04]


def test_three_task_matrix_by_hand():
    assert average_accuracy(R) == pytest.approx((0.40 + 0.70 + 0.85) / 3)
    assert backward_transfer(R) == pytest.approx(((0.40 - 0.90) + (0.70 - 0.95)) / 2)  # -0.375
    assert forward_transfer(R, B) == pytest.approx(((0.05 - 0.02) + (0.10 - 0.04)) / 2)  # 0.045
    forgetting = task_forgetting(R)
    assert forgetting[:2] == pytest.approx([0.90 - 0.40, 0.95 - 0.70]) and math.isnan(forgetting[2])


def test_one_task_has_accuracy_but_no_transfer():
    assert average_accuracy([[0.8]]) == 0.8
    assert math.isnan(backward_transfer([[0.8]])) and math.isnan(forward_transfer([[0.8]], [0.0]))
    assert all(math.isnan(f) for f in task_forgetting([[0.8]]))


def test_missing_entries_are_left_out():
    matrix = [[0.9, NAN, 0.1], [NAN, 0.8, NAN], [0.5, 0.6, 0.7]]
    assert average_accuracy(matrix) == pytest.approx(0.6)
    assert backward_transfer(matrix) == pytest.approx(((0.5 - 0.9) + (0.6 - 0.8)) / 2)
    assert math.isnan(forward_transfer(matrix, [0.0, 0.0, 0.0]))  # R[0][1] and R[1][2] both missing
    assert math.isnan(forward_transfer([[0.9, 0.3], [0.5, 0.6]], [0.0, NAN]))  # no untrained baseline for task 1
    assert task_forgetting(matrix)[:2] == pytest.approx([0.4, 0.2])
    assert math.isnan(average_accuracy([[NAN, NAN]]))


def test_forgetting_uses_the_best_earlier_stage_not_the_learning_stage():
    matrix = [[0.5, 0.0], [0.9, 0.2], [0.6, 0.8]]  # task 0 improved at stage 1, then dropped
    assert task_forgetting(matrix)[0] == pytest.approx(0.3)
    assert backward_transfer(matrix) == pytest.approx(((0.6 - 0.5) + (0.8 - 0.2)) / 2)


accuracy = st.floats(0, 1)


@given(st.integers(1, 5).flatmap(lambda n: st.lists(st.lists(accuracy, min_size=n, max_size=n), min_size=n,
                                                     max_size=n)))
def test_ranges_for_any_square_matrix(matrix):
    assert 0 <= average_accuracy(matrix) <= 1
    bwt = backward_transfer(matrix)
    assert math.isnan(bwt) if len(matrix) == 1 else -1 <= bwt <= 1
    assert all(math.isnan(f) or -1 <= f <= 1 for f in task_forgetting(matrix))
    unchanged = [list(matrix[0]) for _ in matrix]  # nothing changes after stage 0: no forgetting at all
    assert all(math.isnan(f) or f == 0 for f in task_forgetting(unchanged))
