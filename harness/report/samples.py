"""Per-item evidence in report.html: the before/after sample tables (reference, each model's answer marked right or
wrong with the character-level difference highlighted, outcome class, probe type and language apart) and, per
gate, the items behind its verdict (lost / gained / still wrong; failing probes with the reason)."""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from html import escape

from harness.records import GateResult, Sample
from harness.report.markup import anchor, cell, plural, table

OUTCOMES = {(True, False): "regressed", (False, True): "gained", (True, True): "unchanged right",
            (False, False): "unchanged wrong"}  # (base correct, tuned correct) -> outcome class
SIMILAR = 0.4  # below this share of characters in common, two answers are shown without change marks
_RANK = {"regressed": 0, "unchanged wrong": 1, "gained": 2}


def outcome(sample: Sample) -> str:
    """regressed / gained / unchanged right / unchanged wrong where both models' correctness is known, else ""."""
    return OUTCOMES.get((sample.score.get("base_correct"), sample.score.get("tuned_correct")), "")


def type_and_language(sample: Sample) -> tuple[str, str]:
    """The item's type (task category, probe type, audited task) and language; results written before the two were
    recorded apart carry one `kind` such as `facts/en`, split here."""
    score = sample.score
    if "type" in score or "language" in score:
        return str(score.get("type") or ""), str(score.get("language") or "")
    kind = str(score.get("kind", ""))
    return tuple(kind.split("/", 1)) if "/" in kind else (kind, "")  # type: ignore[return-value]


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
        return escape(before), escape(after)
    old, new = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = escape(before[i1:i2]), escape(after[j1:j2])
        old.append(a if op == "equal" or not a else f"<del>{a}</del>")
        new.append(b if op == "equal" or not b else f"<ins>{b}</ins>")
    return "".join(old), "".join(new)


def _answer(html: str, correct: object) -> str:
    """A model's answer cell with a right (✓) / wrong (✗) mark where its correctness is known."""
    mark = {True: "<span class='pass'> ✓</span>", False: "<span class='fail'> ✗</span>"}.get(correct, "")
    return f"<td>{html}{mark}</td>"


def _verdict(sample: Sample) -> str:
    passed = sample.score.get("passed", True)
    reason = sample.score.get("reason") or ""
    why = f"<br><span class='why'>{escape(str(reason))}</span>" if reason and not passed else ""
    return f"<td><span class='{'pass' if passed else 'fail'}'>{'ok' if passed else 'miss'}</span>{why}</td>"


def _row(sample: Sample, columns: tuple[bool, bool]) -> str:
    kind, language = type_and_language(sample)
    passed = sample.score.get("passed", True)
    data = (f'data-outcome="{escape(outcome(sample))}" data-type="{escape(kind)}" data-language="{escape(language)}" '
            f'data-failing="{0 if passed else 1}"')
    base, tuned = diff_marks(str(sample.base_output), str(sample.tuned_output))
    return (f'<tr class="{"" if passed else "bad"}" {data}>{cell(sample.id, "mono")}'
            + (cell(kind) if columns[0] else "") + (cell(language) if columns[1] else "")
            + f"{cell(sample.prompt)}{cell(sample.reference)}"
            f"{_answer(base, sample.score.get('base_correct'))}{_answer(tuned, sample.score.get('tuned_correct'))}"
            f"{cell(outcome(sample))}{_verdict(sample)}</tr>")


def _answer_labels(samples: Sequence[Sample]) -> tuple[str, str]:
    """'base answer' / 'tuned answer', or for audit items the two stages compared."""
    first = samples[0].score if samples else {}
    if "previous" in first:
        return f"{first['previous']} answer", f"{first['checkpoint']} answer"
    return "base answer", "tuned answer"


def sample_rows_table(samples: Sequence[Sample]) -> str:
    """The rows as a filterable `table.samples`, failing first, then regressed; the type and language columns only
    where some row has one."""
    ordered = sorted(samples, key=lambda s: (s.score.get("passed", True), _RANK.get(outcome(s), 3)))
    labels = [type_and_language(s) for s in samples]
    columns = (any(k for k, _ in labels), any(lang for _, lang in labels))
    headers = ["item", *(["type"] if columns[0] else []), *(["language"] if columns[1] else []), "prompt",
               "reference", *_answer_labels(samples), "outcome", "verdict"]
    return table(headers, [_row(s, columns) for s in ordered], "samples")


def samples_table(samples: Sequence[Sample]) -> str:
    """Every before/after row of a capability, folded: the gates' evidence above it shows the rows that matter."""
    failing = sum(not s.score.get("passed", True) for s in samples)
    return (f"<details><summary>all items, before / after ({len(samples)} items, {failing} failing)</summary>"
            f"{sample_rows_table(samples)}</details>")


def evidence_anchor(capability: str, part: str = "", metric: str = "") -> str:
    """The id of the evidence block of a capability (of one checkpoint, of one metric)."""
    return anchor("evidence", "/".join(x for x in (capability, part, metric) if x))


class EvidenceIndex:
    """The samples grouped once by the evidence block they belong to: one block per capability, per audited
    checkpoint (samples with a `checkpoint`), per identity metric (samples with a `metric`). Looking up a gate's
    block is then a dictionary access, however many gates and samples a run has."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self.split_by: dict[str, tuple[bool, bool]] = {}  # capability -> (by checkpoint, by metric)
        for s in samples:
            by_checkpoint, by_metric = self.split_by.get(s.capability, (False, False))
            self.split_by[s.capability] = (by_checkpoint or "checkpoint" in s.score, by_metric or "metric" in s.score)
        self.groups: dict[str, list[Sample]] = {}
        for s in samples:
            self.groups.setdefault(self._anchor(s.capability, s.score.get("checkpoint", ""),
                                                s.score.get("metric", "")), []).append(s)

    def _anchor(self, capability: str, part: str, metric: str) -> str:
        by_checkpoint, by_metric = self.split_by[capability]
        return evidence_anchor(capability, part if by_checkpoint else "", metric if by_metric else "")

    def key(self, gate: GateResult) -> str:
        """The anchor of the evidence block behind `gate`; '' when no sample bears on its capability."""
        return self._anchor(gate.capability, gate.part, gate.metric) if gate.capability in self.split_by else ""

    def rows(self, key: str) -> list[Sample]:
        """The samples of one evidence block."""
        return self.groups.get(key, [])


def _group(title: str, rows: Sequence[Sample], open_: bool) -> str:
    if not rows:
        return ""
    return (f"<details{' open' if open_ else ''}><summary>{escape(title)} ({len(rows)})</summary>"
            f"{sample_rows_table(rows)}</details>")


def evidence_blocks(gates: Sequence[GateResult], index: EvidenceIndex) -> str:
    """One folded block per evidence key of `gates` (open when one of its gates failed): the items lost, gained
    and still wrong where both models' correctness is known, else the failing items with their reason."""
    blocks: dict[str, list[GateResult]] = {}
    for gate in gates:
        if key := index.key(gate):
            blocks.setdefault(key, []).append(gate)
    html = []
    for key, judged in blocks.items():
        rows = index.rows(key)
        failed = not all(g.passed for g in judged)
        by_outcome = {name: [s for s in rows if outcome(s) == name] for name in ("regressed", "gained",
                                                                                  "unchanged wrong")}
        if any(outcome(s) for s in rows):
            complete = any(outcome(s).startswith("unchanged") for s in rows)  # audit rows: changed items only
            summary = (f"{plural(len(by_outcome['regressed']), 'item')} lost, {len(by_outcome['gained'])} gained"
                       + (f", {len(by_outcome['unchanged wrong'])} still wrong (of {len(rows)})" if complete else
                          f" since {rows[0].score.get('previous', 'the stage before')}"))
            body = (_group("lost: right before, wrong now", by_outcome["regressed"], True)
                    + _group("gained: wrong before, right now", by_outcome["gained"], False)
                    + _group("still wrong", by_outcome["unchanged wrong"], False))
        else:
            bad = [s for s in rows if not s.score.get("passed", True)]
            summary = f"{plural(len(bad), 'failing item')} (of {len(rows)})"
            body = _group("failing items, with the reason", bad, True)
        names = ", ".join(g.id for g in judged)
        html.append(f"<details class='evidence' id='{key}'{' open' if failed else ''}><summary>evidence for "
                    f"{escape(names)}: {escape(summary)}</summary>{body}</details>")
    return "".join(html)
