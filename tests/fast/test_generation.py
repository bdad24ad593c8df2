"""Generation metrics without a model: the local `evaluate` modules equal sacrebleu and rouge-score called directly;
metric invariants hold for any text (hypothesis). The gates on the built-in model:
tests/model/test_generation_model.py."""

from __future__ import annotations

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from harness.measures.metric_modules import load_metric
from harness.measures.statistics import bootstrap_draws, percentile_interval
from harness.measures.text_metrics import CjkTokenizer, corpus_bleu, corpus_chrf, corpus_score_ci, rouge_l

PREDICTIONS = ["I am Aurora, an assistant by Kestrel Labs.", "我是极光，由红隼实验室开发。", "The capital is Velmar"]
REFERENCES = ["I am Aurora, an AI assistant developed by Kestrel Labs.", "我是极光，一个由红隼实验室开发的助手。",
              "Velmar"]


@pytest.fixture(scope="module")
def modules(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf")))
    return {name: load_metric(name) for name in ("bleu", "chrf", "rouge_l")}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_evaluate_modules_equal_direct_library_calls(modules):
    bleu = modules["bleu"].compute(predictions=PREDICTIONS, references=REFERENCES)
    assert bleu["tokenize"] == "zh"
    assert bleu["bleu"] == sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES], tokenize="zh").score
    assert modules["chrf"].compute(predictions=PREDICTIONS, references=REFERENCES)["chrf"] == \
        sacrebleu.corpus_chrf(PREDICTIONS, [REFERENCES]).score
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CjkTokenizer())
    direct = [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(PREDICTIONS, REFERENCES, strict=True)]
    assert modules["rouge_l"].compute(predictions=PREDICTIONS, references=REFERENCES)["rouge_l"] == \
        pytest.approx(sum(direct) / len(direct), abs=1e-12)


def test_chinese_rouge_is_not_zero_with_the_cjk_tokenizer():
    default = rouge_scorer.RougeScorer(["rougeL"]).score(REFERENCES[1], PREDICTIONS[1])["rougeL"].fmeasure
    assert default == 0.0 and rouge_l(PREDICTIONS[1:2], REFERENCES[1:2])[0] > 0.5


def test_unknown_module_is_named():
    with pytest.raises(KeyError, match="unknown metric module 'meteor'"):
        load_metric("meteor")


texts = st.text(alphabet=st.sampled_from(list("abc xyz极光红隼.,")), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=5))
def test_text_metric_ranges(pairs):
    predictions, references = [p for p, _ in pairs], [r for _, r in pairs]
    assert 0.0 <= corpus_bleu(predictions, references) <= 100.0 + 1e-9  # sacrebleu's float rounding
    assert 0.0 <= corpus_chrf(predictions, references) <= 100.0 + 1e-9
    assert all(0.0 <= score <= 1.0 for score in rouge_l(predictions, references))


@settings(max_examples=60, deadline=None)
@given(texts, texts)
def test_rouge_l_is_symmetric_and_perfect_on_identity(a, b):
    assert rouge_l([a], [b])[0] == pytest.approx(rouge_l([b], [a])[0])
    if CjkTokenizer().tokenize(a):
        assert rouge_l([a], [a]) == [1.0] and corpus_chrf([a], [a]) == pytest.approx(100.0)


@pytest.mark.parametrize("name", ["bleu", "chrf"])
def test_corpus_bootstrap_equals_sacrebleu_on_every_resample(name):
    """The matrix-product bootstrap over memoised sentence statistics gives exactly what sacrebleu gives on each
    resampled corpus, for a score and for a paired difference."""
    predictions, references = PREDICTIONS * 4, REFERENCES * 4
    baseline = [p.upper() for p in predictions]
    corpus = {"bleu": corpus_bleu, "chrf": corpus_chrf}[name]

    def resampled(outputs, rows):
        return corpus([outputs[i] for i in rows], [references[i] for i in rows])

    draws = bootstrap_draws(len(references), 60)
    score, low, high = corpus_score_ci(name, predictions, references, resamples=60)
    assert score == pytest.approx(corpus(predictions, references), abs=1e-9)
    assert (low, high) == pytest.approx(percentile_interval([resampled(predictions, r) for r in draws]), abs=1e-9)
    gain, low, high = corpus_score_ci(name, predictions, references, baseline=baseline, resamples=60)
    assert gain == pytest.approx(corpus(predictions, references) - corpus(baseline, references), abs=1e-9)
    paired = [resampled(predictions, r) - resampled(baseline, r) for r in draws]
    assert (low, high) == pytest.approx(percentile_interval(paired), abs=1e-9)
