"""Per-item rows in report.html: the reference, each model's answer marked right or wrong with the character-level
difference highlighted, the item's own scores, and its verdict (the gates it fails, the reason); one table per
capability holding every item, and the same rows in each gate's evidence (`harness.report.evidence`).

On a phone a row stacks into a card: each cell on its own line, labelled by its column (CSS generated per column
set, so no label is repeated in every cell of thousands of rows).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from difflib import SequenceMatcher
from html import escape

from harness.foundation.records import Sample
from harness.report.figures import figure
from harness.report.markup import cell

OUTCOMES: dict[tuple[object, object], str] = {  # (base correct, tuned correct) -> outcome class
    (True, False): "regressed", (False, True): "gained", (True, True): "unchanged right",
    (False, False): "unchanged wrong"}
SIMILAR = 0.4  # below this share of characters in common, two answers are shown without change marks
_RANK = {"regressed": 0, "worse": 0, "unchanged wrong": 1, "gained": 2, "better": 2}
_CSS_UNSAFE = re.compile(r"[^\w .:-]")  # what a column label may not carry into a CSS string
COLUMN_SETS: dict[str, tuple[str, ...]] = {}  # class name -> column labels, for the phone's stacked rows

Failing = Callable[[Sample], list[str]]  # the gates (metric names) a row fails


def outcome(sample: Sample) -> str:
    """regressed / gained / unchanged right / unchanged wrong where both models' correctness is known, the
    evaluator's own word (better / worse / same) where it gave one, else ""."""
    if "outcome" in sample.score:
        return str(sample.score["outcome"])
    return OUTCOMES.get((sample.score.get("base_correct"), sample.score.get("tuned_correct")), "")


def type_and_language(sample: Sample) -> tuple[str, str]:
    """The item's type (task category, probe type, audited task) and language; results written before the two were
    recorded apart carry one `kind` such as `facts/en`, split here."""
    score = sample.score
    if "type" in score or "language" in score:
        return str(score.get("type") or ""), str(score.get("language") or "")
    kind = str(score.get("kind", ""))
    return tuple(kind.split("/", 1)) if "/" in kind else (kind, "")  # type: ignore[return-value]


def _text(value: str) -> str:
    """`value` escaped for element text (`<`, `>`, `&`; quotes need no escape there)."""
    return escape(value, quote=False)


def diff_marks(before: str, after: str) -> tuple[str, str]:
    """Both texts escaped, with what `after` changed marked: removed characters as `<del>` in `before`, added
    ones as `<ins>` in `after` (character-level, so a one-digit change shows as one digit). Texts with less than
    `SIMILAR` of their characters in common are left unmarked: there, everything changed.

    >>> diff_marks("33", "31")
    ('3<del>3</del>', '3<ins>1</ins>')
    >>> diff_marks("I am Atlas", "42")
    ('I am Atlas', '42')
    """
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    if before == after or matcher.ratio() < SIMILAR:
        return _text(before), _text(after)
    old, new = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = _text(before[i1:i2]), _text(after[j1:j2])
        old.append(a if op == "equal" or not a else f"<del>{a}</del>")
        new.append(b if op == "equal" or not b else f"<ins>{b}</ins>")
    return "".join(old), "".join(new)


def _answer(html: str, correct: object) -> str:
    """A model's answer cell with a right (✓) / wrong (✗) mark where its correctness is known."""
    mark = " <b class=pass>✓</b>" if correct is True else " <b class=fail>✗</b>" if correct is False else ""
    return f"<td>{html}{mark}</td>"


def scores_text(sample: Sample) -> str:
    """The item's own figures: 'chrF 45.1 → 30.2 · ROUGE-L 0.61 → 0.4' (before → after where there are two)."""
    shown = []
    for name, value in (sample.score.get("figures") or {}).items():
        if isinstance(value, list):
            shown.append(f"{name} {' → '.join(figure(v) for v in value)}")
        else:
            shown.append(f"{name} {figure(value)}")
    return " · ".join(shown)


def _verdict(sample: Sample, failing: list[str]) -> str:
    """'ok', or 'miss' with the gates the item counts against and the evaluator's reason."""
    word = f" · {escape(outcome(sample))}" if outcome(sample) else ""
    if not failing:
        return f"<td><b class=pass>ok</b>{word}</td>"
    reason = sample.score.get("reason") or ""
    detail = _text(": ".join(x for x in (", ".join(f for f in failing if f), reason) if x))
    return f"<td><b class=fail>miss</b>{word}{f'<br><span class=why>{detail}</span>' if detail else ''}</td>"


class Columns:
    """Which columns a set of rows needs (type, language, prompt, answers, scores) and their labels; an item table
    leaves out what none of its rows has. The prompted base's answer only where asked for (the evidence of a gate
    that compares with it), not in every item table."""

    def __init__(self, samples: Sequence[Sample], prompted: bool = False) -> None:
        labels = [type_and_language(s) for s in samples]
        self.type, self.language = any(k for k, _ in labels), any(lang for _, lang in labels)
        self.prompt, self.reference = any(s.prompt for s in samples), any(s.reference for s in samples)
        self.answers = any(s.base_output or s.tuned_output for s in samples)
        self.prompted = prompted and any("prompted_output" in s.score for s in samples)
        self.scores = any(s.score.get("figures") for s in samples)
        first = samples[0].score if samples else {}
        before, after = ((f"{first['previous']} answer", f"{first['checkpoint']} answer") if "previous" in first
                         else ("base answer", "tuned answer"))
        self.labels = ("item", *(["type"] if self.type else []), *(["language"] if self.language else []),
                       *(["prompt"] if self.prompt else []), *(["reference"] if self.reference else []),
                       *([before] if self.answers else []),
                       *(["prompted answer"] if self.prompted else []), *([after] if self.answers else []),
                       *(["scores"] if self.scores else []), "verdict")

    @property
    def css_class(self) -> str:
        """A class naming this column set (`c` + a digest of the labels), registered for the phone's CSS."""
        name = "c" + hashlib.sha1("|".join(self.labels).encode()).hexdigest()[:6]
        COLUMN_SETS[name] = self.labels
        return name

    def row(self, sample: Sample, failing: list[str]) -> str:
        """One `<tr>` with the filter script's data attributes (outcome, each gate's part) and class `bad` when it
        fails a gate."""
        kind, language = type_and_language(sample)
        gates = " ".join(m + ("!" if m in failing else "") for m in sample.score.get("gates", {}))  # "!": fails it
        data = "".join(f' data-{key}="{escape(value)}"' for key, value in (("o", outcome(sample)), ("g", gates))
                       if value) + (" class=bad" if failing else "")
        cells = [cell(sample.id)] + ([cell(kind)] if self.type else []) + (
            [cell(language)] if self.language else []) + ([cell(sample.prompt)] if self.prompt else []) + (
            [cell(sample.reference)] if self.reference else [])
        if self.answers:
            base, tuned = diff_marks(str(sample.base_output), str(sample.tuned_output))
            prompted = ([_answer(_text(str(sample.score.get("prompted_output", ""))),
                                 sample.score.get("prompted_correct"))] if self.prompted else [])
            cells += [_answer(base, sample.score.get("base_correct")), *prompted,
                      _answer(tuned, sample.score.get("tuned_correct"))]
        cells += [cell(scores_text(sample), "num")] if self.scores else []
        return f'<tr{data}>{"".join(cells)}{_verdict(sample, failing)}</tr>'


def rows_table(samples: Sequence[Sample], failing: Failing, table_id: str = "", prompted: bool = False,
               filters: bool = False) -> str:
    """The rows as a `table.samples` (failing first, then regressed; with `filters`, the filter script's controls
    above it), in a box that scrolls sideways on a wide screen and stacks into labelled cards on a phone."""
    judged = [(s, failing(s)) for s in samples]
    judged.sort(key=lambda pair: (not pair[1], _RANK.get(outcome(pair[0]), 3)))
    columns = Columns(samples, prompted)
    head = "".join(f"<th>{escape(label)}</th>" for label in columns.labels)
    ident = f" id='{table_id}'" if table_id else ""
    classes = f"samples{' filtered' if filters else ''} {columns.css_class}"
    return (f"<div class='scroll'><table{ident} class='{classes}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(columns.row(s, bad) for s, bad in judged)}</tbody></table></div>")


def stacked_row_css(used: Mapping[str, tuple[str, ...]]) -> str:
    """The phone's labels of every column set in `used`: `.cXXXXXX td:nth-child(k)::before{content:"label"}`."""
    rules = [f".{name} td:nth-child({k})::before{{content:'{_CSS_UNSAFE.sub('', label)}: '}}"
             for name, labels in used.items() for k, label in enumerate(labels, 1) if k > 1]
    return "@media (max-width:600px){" + "".join(rules) + "}" if rules else ""
