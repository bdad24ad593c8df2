"""The test folder's tiers: tests/fast (no model), tests/model (the built-in model in this process), tests/e2e (whole
runs). The fast tier's guard (tests/fast/conftest.py) refuses a test that asks for a model fixture; every test module
sits in a tier, under a name no other tier uses."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

TIERS = ("fast", "model", "e2e")
GUARD = ROOT / "tests/fast/conftest.py"


@pytest.fixture
def guarded(pytester: pytest.Pytester) -> pytest.Pytester:
    """A scratch project whose conftest is the fast tier's guard, byte for byte."""
    pytester.makeconftest(GUARD.read_text())
    return pytester


def test_a_fast_test_asking_for_base_model_is_a_collection_error_naming_it(guarded: pytest.Pytester):
    guarded.makepyfile(test_planted="""
        import pytest

        def test_pure():
            assert True

        @pytest.fixture
        def answers(models_under_test):
            return models_under_test

        def test_loads_the_model(base_model):
            assert base_model

        def test_through_a_fixture(answers):
            assert answers
    """)
    guarded.makepyfile(test_clean="def test_sum():\n    assert 1 + 1 == 2\n")
    result = guarded.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # nothing ran: collection stopped the session
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting test_planted.py*",
                                 "*test_planted.py::test_loads_the_model uses base_model*",
                                 "*test_planted.py::test_through_a_fixture uses models_under_test*",
                                 "*move it to tests/model/*"])
    assert "test_pure uses" not in result.stdout.str()  # a test without a model fixture is not named


def test_a_model_fixture_asked_for_at_run_time_fails_the_test(guarded: pytest.Pytester):
    guarded.makepyfile(test_planted="""
        def test_asks_late(request):
            request.getfixturevalue("adapter_under_test")
    """)
    result = guarded.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_planted.py::test_asks_late asked for adapter_under_test at run time; a fast "
                                 "test uses no model*"])


def test_every_test_module_sits_in_one_tier_under_a_name_of_its_own():
    tests = ROOT / "tests"
    modules = [p.relative_to(tests) for p in tests.rglob("test_*.py")]
    outside = [str(p) for p in modules if p.parts[0] not in TIERS]
    assert not outside, f"a test module belongs in tests/fast, tests/model or tests/e2e: {outside}"
    names = [p.name for p in modules]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})  # default import mode
