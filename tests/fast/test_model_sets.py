"""The typed model inputs: each capability states the `models` it takes, its evaluator's signature names the same
type, and a suite that hands it another shape fails naming both (no shape guessing)."""

from __future__ import annotations

import typing

import pytest

from harness.capabilities import CapabilityError, builtin_capabilities
from harness.model.sets import ModelSet
from tests.fakes import FakeModel, fake_pair, question_set


def test_a_model_set_unpacks_like_the_tuple_plug_ins_were_written_against():
    base, tuned = FakeModel("base", {}), FakeModel("tuned", {})
    pair = ModelSet(base, tuned)
    first, second = pair
    assert (first, second) == (base, tuned) and len(pair) == 2 and pair[1] is tuned
    prompted = pair.with_prompted(FakeModel("prompted", {}))
    assert len(prompted) == 3 and prompted.prompted.name == "prompted" and pair.with_prompted(None) is pair


@pytest.mark.parametrize("capability", [c for c in builtin_capabilities() if c.evaluate is not None],
                         ids=lambda c: c.name)
def test_every_builtin_capability_states_the_models_its_evaluator_is_typed_for(capability):
    hint = typing.get_type_hints(capability.evaluate)["models"]
    declared = typing.get_origin(hint) or hint
    assert capability.takes is not None, f"{capability.name} does not state the models it takes"
    assert declared is capability.takes or (declared is type(None) and capability.takes is type(None)), \
        f"{capability.name}: registry says {capability.takes}, evaluate is typed for {hint}"


def test_a_capability_handed_the_wrong_models_fails_naming_what_it_takes():
    old_task = builtin_capabilities()["old_task"]
    base, tuned = fake_pair(question_set(), wrong=2)
    with pytest.raises(CapabilityError, match=r"capability old_task takes ModelSet as its models, got dict"):
        old_task.run([], {"base": base, "tuned": tuned}, question_set(), None)
    with pytest.raises(CapabilityError, match=r"capability adapter_health takes HealthModels as its models, got "
                                              r"ModelSet"):
        builtin_capabilities()["adapter_health"].run([], ModelSet(base, tuned), question_set(), None)
    typed = old_task.run([], ModelSet(base, tuned), question_set(), None)[0]
    as_before = old_task.run([], (base, tuned), question_set(), None)[0]  # the tuple suites passed before
    assert typed.metrics == as_before.metrics and any(m.name == "exact_match" for m in typed.metrics)
