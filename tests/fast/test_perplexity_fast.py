"""Perplexity's sliding windows without a model: every token after the first is scored exactly once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.model.scoring import sliding_windows


@given(st.integers(0, 300), st.integers(2, 64).flatmap(lambda w: st.tuples(st.just(w), st.integers(1, w - 1))))
def test_windows_score_every_token_after_the_first_exactly_once(n, window_stride):
    window, stride = window_stride
    spans = sliding_windows(n, window, stride)
    scored = [p for start, end, first in spans for p in range(first, end)]
    assert scored == list(range(1, n))
    assert all(start < first and end - start <= window for start, end, first in spans)
