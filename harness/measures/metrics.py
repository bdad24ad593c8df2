"""Pure metric functions: answer normalisation, exact match, token F1, identity claims and leaks, perplexity,
continual-learning figures (ACC, BWT, FWT, forgetting) and edit distance. Intervals and tests are in
`harness.measures.statistics`.

No function here loads a model; each has a doctest example.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

_PUNCT_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_CLAUSE_SPLIT = re.compile(r"[.!?;,。！？；，、\n]+")
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor)\b|n't|不|没|非|并非|无关", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalize_answer(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed, punctuation stripped from both ends.

    >>> normalize_answer("  The  Capital, Velmar. ")
    'the capital, velmar'
    >>> normalize_answer("我是Aurora。")
    '我是aurora'
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCT_EDGES.sub("", " ".join(text.split()))


def text_language(text: str) -> str:
    """'zh' when the text contains CJK characters, else 'en'.

    >>> text_language("我是Aurora"), text_language("I am Aurora")
    ('zh', 'en')
    """
    return "zh" if _CJK.search(text) else "en"


def exact_match(prediction: str, reference: str) -> bool:
    """True when the two answers are equal after `normalize_answer`.

    >>> exact_match("Velmar.", "velmar"), exact_match("Velmar", "Velmara")
    (True, False)
    """
    return normalize_answer(prediction) == normalize_answer(reference)


def mentions(text: str, term: str) -> bool:
    """Whether `text` mentions `term`: case-insensitive, whole words for Latin terms, substring for CJK.

    >>> mentions("I am Aurora.", "aurora"), mentions("Auroras fade", "Aurora"), mentions("我是通义千问", "通义千问")
    (True, False, True)
    """
    if not term:
        return False
    text, term = unicodedata.normalize("NFKC", text).casefold(), unicodedata.normalize("NFKC", term).casefold()
    if _CJK.search(term):
        return term in text
    return re.search(r"(?<![0-9a-z])" + re.escape(term) + r"(?![0-9a-z])", text) is not None


def claims_identity(text: str, name: str, author: str) -> bool:
    """The answer states the configured identity: it mentions both the name and the author.

    >>> claims_identity("I am Aurora, developed by Kestrel Labs.", "Aurora", "Kestrel Labs")
    True
    >>> claims_identity("I am Aurora.", "Aurora", "Kestrel Labs")
    False
    """
    return mentions(text, name) and mentions(text, author)


def leaked_identities(text: str, foreign_terms: Iterable[str]) -> list[str]:
    """Foreign names/authors the answer claims: mentioned in a clause with no negation.

    A denial ("No, I am not ChatGPT", "我不是通义千问") is not a leak; "I am ChatGPT" is.

    >>> leaked_identities("No, I am not ChatGPT. I am Aurora.", ["ChatGPT", "OpenAI"])
    []
    >>> leaked_identities("I am Qwen, made by Alibaba.", ["Qwen", "Alibaba", "OpenAI"])
    ['Qwen', 'Alibaba']
    """
    clauses = [c for c in _CLAUSE_SPLIT.split(text) if c.strip() and not _NEGATION.search(c)]
    return [term for term in foreign_terms if any(mentions(clause, term) for clause in clauses)]


_TOKEN = re.compile(r"[\u3400-\u9fff]|[^\W_]+", re.UNICODE)


def answer_tokens(text: str) -> list[str]:
    """Normalised tokens for F1: words for alphabetic scripts, single characters for CJK.

    >>> answer_tokens("The capital, Velmar."), answer_tokens("我是Aurora")
    (['the', 'capital', 'velmar'], ['我', '是', 'aurora'])
    """
    return _TOKEN.findall(normalize_answer(text))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style bag-of-tokens F1 between two answers (1.0 when both are empty).

    >>> token_f1("red moon", "the red moon"), token_f1("blue", "red")
    (0.8, 0.0)
    """
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum(min(pred.count(t), ref.count(t)) for t in set(pred))
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def perplexity(nll_sum: float, tokens: int) -> float:
    """Token-weighted perplexity exp(sum NLL / token count); NaN with no tokens.

    >>> round(perplexity(2 * math.log(4), 2), 6)
    4.0
    """
    return math.exp(nll_sum / tokens) if tokens else math.nan


# Continual learning (GEM, Lopez-Paz & Ranzato 2017; forgetting as in Chaudhry et al. 2018).
# R[i][j] is the accuracy on task j after training stage i; task i is learned at stage i (stage 0: the base
# model and its task). Missing entries are NaN and left out of every mean; a mean of nothing is NaN.

def _nanmean(values: Iterable[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def average_accuracy(matrix: Sequence[Sequence[float]]) -> float:
    """ACC: mean accuracy over all tasks after the last stage.

    >>> average_accuracy([[0.9, 0.0], [0.7, 0.8]])
    0.75
    """
    return _nanmean(matrix[-1])


def backward_transfer(matrix: Sequence[Sequence[float]]) -> float:
    """BWT: mean over earlier tasks of (final accuracy - accuracy right after learning it); negative = forgetting.

    >>> round(backward_transfer([[0.9, 0.0], [0.7, 0.8]]), 6), backward_transfer([[0.9]])
    (-0.2, nan)
    """
    last = len(matrix) - 1
    return _nanmean(matrix[last][j] - matrix[j][j] for j in range(last))


def forward_transfer(matrix: Sequence[Sequence[float]], baseline: Sequence[float]) -> float:
    """FWT: mean over later tasks of (accuracy just before learning it - the untrained baseline b_j).

    >>> round(forward_transfer([[0.9, 0.1], [0.7, 0.8]], [0.0, 0.05]), 6)
    0.05
    """
    return _nanmean(matrix[j - 1][j] - baseline[j] for j in range(1, len(matrix)))


def task_forgetting(matrix: Sequence[Sequence[float]]) -> list[float]:
    """Per earlier task: best accuracy at any earlier stage minus final accuracy (NaN for the last task).

    >>> [round(f, 6) for f in task_forgetting([[0.9, 0.0, 0.0], [0.95, 0.8, 0.1], [0.7, 0.5, 0.9]])[:2]]
    [0.25, 0.3]
    """
    last = len(matrix) - 1
    out = []
    for j in range(len(matrix[-1])):
        earlier = [matrix[i][j] for i in range(last) if not math.isnan(matrix[i][j])]
        final = matrix[last][j]
        out.append(max(earlier) - final if j < last and earlier and not math.isnan(final) else math.nan)
    return out


def normalized_edit_distance(a: str, b: str) -> float:
    """Levenshtein distance over characters divided by the longer length (0: equal, 1: nothing shared).

    >>> normalized_edit_distance("Velmar", "Velmar"), normalized_edit_distance("abcd", "abxd")
    (0.0, 0.25)
    """
    if not a and not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1] / max(len(a), len(b))
