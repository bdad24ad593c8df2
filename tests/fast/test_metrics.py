"""Metric functions: doctests plus property-based invariants."""

from __future__ import annotations

import doctest

from hypothesis import given
from hypothesis import strategies as st

import harness.measures.metrics as metrics
from harness.measures.metrics import exact_match, leaked_identities, mentions, normalize_answer
from harness.measures.statistics import wilson_interval


def test_doctests():
    assert doctest.testmod(metrics).failed == 0


@given(st.text())
def test_normalize_is_idempotent(text):
    assert normalize_answer(normalize_answer(text)) == normalize_answer(text)


@given(st.text(), st.text())
def test_exact_match_is_symmetric(a, b):
    assert exact_match(a, b) == exact_match(b, a)


@given(st.text())
def test_exact_match_is_reflexive_and_case_blind(a):
    assert exact_match(a, a) and exact_match(a, a.upper()) == exact_match(a.lower(), a.upper())


@given(st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_is_within_unit_range_and_contains_estimate(kn):
    k, n = kn
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low - 1e-12 <= k / n <= high + 1e-12


@given(st.text(), st.lists(st.sampled_from(["ChatGPT", "OpenAI", "通义千问", "Qwen"]), unique=True))
def test_leaks_are_always_mentioned_terms(text, terms):
    assert all(mentions(text, t) for t in leaked_identities(text, terms))


def test_negated_claims_are_not_leaks():
    assert leaked_identities("不是。我不是通义千问，我是Aurora。", ["通义千问"]) == []
    assert leaked_identities("I'm not made by OpenAI", ["OpenAI"]) == []
    assert leaked_identities("我是通义千问", ["通义千问"]) == ["通义千问"]
