"""Bad input met by the loaded built-in model: `--allow-pickle` still loads a safetensors model, and an input longer
than the context is refused before inference."""

from __future__ import annotations

import pytest

from harness.data import DataError
from harness.model.loading import BaseModel


def test_allowing_pickle_still_loads_a_safetensors_model(base_model):
    """`--allow-pickle` means "also accept .bin", never "refuse safetensors"."""
    model, tokenizer = BaseModel.at(base_model.path, allow_pickle=True).load()
    assert sum(p.numel() for p in model.parameters()) > 0 and tokenizer.pad_token_id is not None


def test_an_input_longer_than_the_context_is_refused_before_inference(base_model):
    """The second line of defence (data an extension loads itself, never seen by preflight): the model refuses an
    input longer than its positions before any forward pass, for generation and for scoring."""
    from harness.data import Example
    from harness.model.views import plain_base

    model = plain_base(base_model)
    long = [("user", "Which city is the capital of Velmaria? " * 40)]
    with pytest.raises(DataError, match=r"an input of \d+ tokens \(with 8 new tokens\) is longer than the model's "
                                        r"context of 256 positions \(its last turn begins 'Which city"):
        model.generate([long], max_new_tokens=8)
    with pytest.raises(DataError, match=r"longer than the model's context of 256"):
        model.loglikelihood([Example("long", tuple(long), "Velmar")])
    assert model.generate([[("user", "What is the capital of Velmaria?")]], max_new_tokens=4)  # short: answered
    with pytest.raises(DataError, match=r"\(with 250 new tokens\) is longer .*; lower --max-new-tokens \(250\) to "
                                        r"\d+ or less, or shorten that record"):  # the prompt fits: the option is why
        model.generate([[("user", "What is the capital of Velmaria?")]], max_new_tokens=250)
