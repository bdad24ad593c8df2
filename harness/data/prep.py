"""Data preparation as a checked step: conversion between the three record formats (alpaca, chat `messages`, plain
`prompt`/`completion`; JSON list or JSONL by the file's suffix), a validation report (blank fields, duplicates exact
and normalised, train/dev leakage with ids, token lengths against `max_length`, language mix, answer-length
outliers) and a deterministic, stratified train/dev split with a manifest of hashes that reproduces it.

`python -m harness.data convert|report|split ...` (`harness/data/__main__.py`); the `data` capability gates
leakage and duplicates of the data folder a run trains on.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.data import DataError, Example
from harness.foundation.cache import atomic_write_text, file_digest

FORMATS = ("alpaca", "chat", "completion")
OUTLIER_FACTOR = 3.0  # an answer longer than Q3 + 3 * IQR tokens (Tukey's far-out fence) is an outlier


def record_of(example: Example, fmt: str) -> dict:
    """One example as a record of `fmt`; its meta keys (category, lang, ...) and id are kept."""
    extra = {"id": example.id, **example.meta}
    system = [text for role, text in example.messages if role == "system"]
    turns = [(role, text) for role, text in example.messages if role != "system"]
    if fmt == "chat":
        messages = [{"role": role, "content": text} for role, text in example.messages]
        return {**extra, "messages": [*messages, {"role": "assistant", "content": example.answer}]}
    if fmt == "completion" and (len(turns) > 1 or system):
        raise DataError(f"{example.source or example.id}: a completion record holds one prompt; this record has "
                        f"{len(turns)} turns{' and a system prompt' if system else ''} (convert it to chat)")
    if fmt == "completion":
        return {**extra, "prompt": turns[-1][1], "completion": example.answer}
    if fmt != "alpaca":
        raise DataError(f"unknown format {fmt!r}; one of {FORMATS}")
    history = [[turns[i][1], turns[i + 1][1]] for i in range(0, len(turns) - 1, 2)]
    return {**extra, **({"system": system[0]} if system else {}), **({"history": history} if history else {}),
            "instruction": turns[-1][1], "input": "", "output": example.answer}


def write_records(path: Path, records: Sequence[dict]) -> None:
    """Records as a JSON list (`.json`) or one per line (`.jsonl`), written atomically."""
    if path.suffix == ".jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    elif path.suffix == ".json":
        text = json.dumps(list(records), ensure_ascii=False, indent=1) + "\n"
    else:
        raise DataError(f"{path}: write .json or .jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def normalised(text: str) -> str:
    """Case-folded, punctuation dropped, whitespace collapsed: what near-duplicates share.

    >>> normalised("  Who ARE you?? ") == normalised("who are you")
    True
    """
    kept = "".join(" " if unicodedata.category(c).startswith(("P", "S")) else c for c in text.casefold())
    return re.sub(r"\s+", " ", kept).strip()


def _prompt(example: Example) -> str:
    return normalised("\n".join(text for _, text in example.messages))


def shared_records(held_out: Sequence[Example], train: Sequence[Example]) -> list[str]:
    """Ids of `held_out` records whose id or (normalised) prompt also occurs in `train` (one pass over each).

    >>> a = Example("a1", (("user", "Hi!"),), "x"); b = Example("b1", (("user", "Yo"),), "y")
    >>> shared_records([a, b], [Example("t1", (("user", "hi"),), "z")])
    ['a1']
    """
    ids, prompts = {ex.id for ex in train}, {_prompt(ex) for ex in train}
    return [ex.id for ex in held_out if ex.id in ids or _prompt(ex) in prompts]


@dataclass
class DataReport:
    """What the validation found in one dataset (train, and dev when it has one)."""

    name: str
    records: int
    blank_fields: list[str] = field(default_factory=list)
    exact_duplicates: list[tuple[str, str]] = field(default_factory=list)
    normalised_duplicates: list[tuple[str, str]] = field(default_factory=list)
    leaks: list[tuple[str, str]] = field(default_factory=list)
    token_lengths: list[int] = field(default_factory=list)
    over_max_length: list[str] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)
    answer_outliers: list[str] = field(default_factory=list)
    recall_set: bool = False  # the dev set is drawn wholly from train (measures recall, as the built-in tasks do)

    @property
    def duplicate_rate(self) -> float:
        """Share of records that repeat an earlier one after normalisation."""
        return len(self.normalised_duplicates) / self.records if self.records else 0.0


def _duplicates(examples: Sequence[Example], key) -> list[tuple[str, str]]:
    """(id, id of the first record it repeats) for every record whose `key` was seen before."""
    first: dict[str, str] = {}
    out = []
    for ex in examples:
        k = key(ex)
        if k in first:
            out.append((ex.id, first[k]))
        else:
            first[k] = ex.id
    return out


def dataset_report(name: str, train: Sequence[Example], dev: Sequence[Example] = (),
                   lengths: Sequence[int] | None = None, max_length: int | None = None) -> DataReport:
    """Validate `train` (and its `dev` set): blank fields, duplicates, dev records sharing an id or a normalised
    prompt with train (a leak, unless the whole dev set is drawn from train: a recall sample), lengths over
    `max_length` (`lengths`: tokens of each training example), language mix, answer-length outliers."""
    report = DataReport(name, len(train))
    for ex in [*train, *dev]:
        report.blank_fields += [f"{ex.id}: {role} turn" for role, text in ex.messages if not text.strip()]
        report.blank_fields += [f"{ex.id}: answer"] if not ex.answer.strip() else []
    report.exact_duplicates = _duplicates(train, lambda ex: json.dumps([ex.messages, ex.answer]))
    report.normalised_duplicates = _duplicates(train, lambda ex: _prompt(ex) + "\0" + normalised(ex.answer))
    shared = set(shared_records(dev, train))
    report.recall_set = bool(dev) and len(shared) == len(dev) < len(train)
    if not report.recall_set:  # a dev set drawn wholly from train is a closed-book recall sample, not a leak
        by_id, by_prompt = {ex.id: ex.id for ex in train}, dict[str, str]()
        for ex in train:
            by_prompt.setdefault(_prompt(ex), ex.id)  # the first training record with that prompt
        report.leaks = [(ex.id, by_id.get(ex.id) or by_prompt[_prompt(ex)]) for ex in dev if ex.id in shared]
    report.languages = dict(Counter(ex.language for ex in train))
    if lengths is not None:
        report.token_lengths = list(lengths)
        if max_length is not None:
            report.over_max_length = [ex.id for ex, n in zip(train, lengths, strict=True) if n > max_length]
    sizes = [len(ex.answer) for ex in train]  # characters: the outlier fence needs no tokenizer
    if len(sizes) >= 4:
        q1, _, q3 = statistics.quantiles(sizes, n=4)
        fence = q3 + OUTLIER_FACTOR * (q3 - q1)
        report.answer_outliers = [ex.id for ex, n in zip(train, sizes, strict=True) if n > fence]
    return report


def report_lines(report: DataReport) -> list[str]:
    """The report as text lines for the terminal."""
    lines = [f"{report.name}: {report.records} training records; languages "
             + ", ".join(f"{k} {v}" for k, v in sorted(report.languages.items()))]
    if report.token_lengths:
        lengths = sorted(report.token_lengths)
        lines.append(f"  tokens per example: median {statistics.median(lengths):g}, p95 "
                     f"{lengths[int(0.95 * (len(lengths) - 1))]}, max {lengths[-1]}; over max_length: "
                     f"{len(report.over_max_length)} {_ids(report.over_max_length)}")
    for title, items in (("blank fields", report.blank_fields), ("exact duplicates", report.exact_duplicates),
                         ("normalised duplicates", report.normalised_duplicates),
                         ("dev items leaked from train (dev id, train id)", report.leaks),
                         ("answer-length outliers", report.answer_outliers)):
        lines.append(f"  {title}: {len(items)} {_ids(items)}")
    if report.recall_set:
        lines.append("  the dev set is drawn wholly from train: a closed-book recall sample (it measures whether "
                     "facts were learned or kept, not generalisation); no leak")
    return lines


def _ids(items: Sequence) -> str:
    shown = ", ".join(str(i) if isinstance(i, str) else f"{i[0]}={i[1]}" for i in items[:5])
    return f"({shown}{' ...' if len(items) > 5 else ''})" if items else ""


def _stratum(example: Example) -> str:
    return f"{example.meta.get('category', '')}/{example.language}"


def stratified_split(examples: Sequence[Example], dev_fraction: float, seed: int
                     ) -> tuple[list[Example], list[Example]]:
    """(train, dev): within every category/language stratum, the examples whose seeded hash of the id ranks lowest
    go to dev (round(fraction x stratum size), one at least in a stratum of two or more). Deterministic: the same
    file, fraction and seed give the same split on any machine.
    """
    if not 0 < dev_fraction < 1:
        raise DataError(f"--dev-fraction must be between 0 and 1, got {dev_fraction}")
    strata: dict[str, list[Example]] = {}
    for ex in examples:
        strata.setdefault(_stratum(ex), []).append(ex)
    dev_ids: set[str] = set()
    for members in strata.values():
        ranked = sorted(members, key=lambda ex: hashlib.sha256(f"{seed}:{ex.id}".encode()).hexdigest())
        take = max(1 if len(members) > 1 else 0, round(dev_fraction * len(members)))
        dev_ids.update(ex.id for ex in ranked[:take])
    return [ex for ex in examples if ex.id not in dev_ids], [ex for ex in examples if ex.id in dev_ids]


def write_split(source: Path, out_dir: Path, dev_fraction: float, seed: int, fmt: str = "alpaca") -> dict:
    """Split `source` into `out_dir/train.json` and `out_dir/dev.json` (records of `fmt`) and write
    `out_dir/split_manifest.json`: source and output hashes, seed, fraction, per-stratum counts and the dev ids."""
    from harness.data import load_examples

    examples = load_examples(source)
    train, dev = stratified_split(examples, dev_fraction, seed)
    out = {"train": out_dir / "train.json", "dev": out_dir / "dev.json"}
    for part, rows in (("train", train), ("dev", dev)):
        write_records(out[part], [record_of(ex, fmt) for ex in rows])
    counts = Counter((_stratum(ex), "train") for ex in train) + Counter((_stratum(ex), "dev") for ex in dev)
    strata = sorted({s for s, _ in counts})
    manifest = {"source": str(source), "source_sha256": file_digest(source), "seed": seed,
                "dev_fraction": dev_fraction, "format": fmt,
                "strata": {s: {"train": counts[(s, "train")], "dev": counts[(s, "dev")]} for s in strata},
                "train": {"path": str(out["train"]), "sha256": file_digest(out["train"]), "records": len(train)},
                "dev": {"path": str(out["dev"]), "sha256": file_digest(out["dev"]), "records": len(dev),
                        "ids": [ex.id for ex in dev]}}
    atomic_write_text(out_dir / "split_manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return manifest
