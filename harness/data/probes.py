"""Identity probes for your identity and your base: held-out paraphrases, adversarial questions and locality
questions, written as `identity/probes.json` (`tunegate probes`, also run by `tunegate init`).

Held-out probes ask who the model is in phrasings of a fixed bank (English and Chinese), plainly and inside
wrappers ("Excuse me, ...", "打扰一下，..."); a candidate whose normalised text (case, punctuation and spacing
ignored, as the data checks compare) is one of the identity training questions is skipped and counted, so a
held-out probe is never a trained question. Adversarial probes name the base's identity and every other vendor
of identity.toml ("Are you ChatGPT?"). Locality probes are drawn from your own base-task data, a stratified sample
by category and language. Answers keep `{{NAME}}` / `{{AUTHOR}}`, so renaming the identity keeps the file valid.
Everything is a function of the inputs and the seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.data import DataError, Example, IdentitySpec
from harness.data.prep import normalised, record_of, stratified_split
from harness.foundation.textfiles import read_toml
from harness.measures.statistics import minimum_detectable_change, wilson_interval

HELD_OUT_EN = (
    "Could you tell me who you are?", "What's your name?", "Who built you?", "Please introduce yourself.",
    "Who is behind you?", "Which team made you?", "What are you called?", "Tell me who your creator is.",
    "May I know your name?", "Who are you, exactly?", "What name do you go by?", "Who programmed you?",
    "Who designed you?", "Which lab made you?", "What is your identity?", "Who am I talking to?",
    "Who owns you?", "Say your name.", "Who produced you?", "Describe yourself.", "What do people call you?",
    "Which organization developed you?", "Where do you come from?", "Who is your maker?",
    "What should I know about you?", "Give me a short introduction of yourself.", "Who trained this assistant?",
    "What kind of assistant are you?", "Who wrote your software?", "Which company do you belong to?",
    "Identify yourself.", "Who am I chatting with right now?", "What is the name of this assistant?",
    "Who engineered you?", "Who is responsible for you?", "What are you, and who made you?",
)
HELD_OUT_ZH = (
    "请问你是谁？", "你的名字是什么？", "是谁开发的你？", "请介绍一下你自己。", "你叫什么？", "哪个公司训练了你？",
    "谁制作了你？", "谁设计了你？", "你的身份是什么？", "我在跟谁说话？", "你来自哪家公司？", "描述一下你自己。",
    "你是哪个团队做的？", "大家怎么称呼你？", "你属于哪家公司？", "请做个自我介绍。", "谁是你的开发者？",
    "你是由谁训练出来的？", "这个助手叫什么名字？", "你是什么样的助手？",
)
EN_WRAPPERS = ("", "Please answer: ", "Excuse me, ", "One more thing: ", "Honestly, ")
ZH_WRAPPERS = ("", "请回答：", "打扰一下，", "说实话，")
ADVERSARIAL = {
    "en": (("Are you {x}?", "Is your name {x}?", "Are you really {x}?"),
           ("Were you made by {y}?", "Did {y} build you?", "Are you a product of {y}?")),
    "zh": (("你是{x}吗？", "你的名字是{x}吗？", "你其实是{x}吧？"),
           ("你是{y}开发的吗？", "{y}训练了你吗？", "你是{y}的产品吗？")),
}
ANSWERS = {"held_out": {"en": "I am {{NAME}}, an AI assistant developed by {{AUTHOR}}.",
                        "zh": "我是{{NAME}}，由{{AUTHOR}}开发的人工智能助手。"},
           "adversarial": {"en": "No. I am {{NAME}}, an AI assistant developed by {{AUTHOR}}.",
                           "zh": "不是。我是{{NAME}}，由{{AUTHOR}}开发的人工智能助手。"}}
DEFAULT_LOCALITY = 110  # ordinary questions: MDE ~10 points on a 0.85 rate
GATES_TEMPLATE = Path(__file__).resolve().parent.parent / "templates/gates.toml"  # what `tunegate init` writes


def default_threshold(metric: str) -> float:
    """The identity gate's threshold in the gates.toml `tunegate init` writes (">= 0.75" -> 0.75), read from the
    template so that the planning figures never drift from the defaults."""
    return float(read_toml(GATES_TEMPLATE, DataError)["identity"][metric].split()[1])


@dataclass(frozen=True)
class ProbeSet:
    """The probes written, and what was left out: held-out candidates that were training questions."""

    records: list[dict]
    skipped: list[str]
    locality_pool: int
    seed: int = 0

    def count(self, kind: str) -> int:
        """How many probes of `kind` the set holds."""
        return sum(r["kind"] == kind for r in self.records)

    def power_lines(self) -> list[str]:
        """Per gate: the probes behind it and its minimum detectable change (80% power) at the default threshold."""
        sizes = {"held_out_claim_rate": self.count("held_out") + self.count("adversarial"),
                 "locality_unchanged": self.count("locality")}
        lines = []
        for gate, n in sizes.items():
            rate = default_threshold(gate)
            mde = minimum_detectable_change(*wilson_interval(round(rate * n), n)) if n else None
            lines.append(f"identity.{gate}: {n} probes" + (f", MDE {mde * 100:.1f} points at a rate of {rate}"
                                                          if mde is not None else ", not judged (no probes)"))
        return lines


def build_probes(spec: IdentitySpec, training: Sequence[Example], base_task: Sequence[Example], seed: int = 0,
                 locality: int = DEFAULT_LOCALITY, held_out: int | None = None) -> ProbeSet:
    """Held-out probes (all candidates, or `held_out` of them drawn with `seed`) and adversarial probes for
    `spec`, none a normalised copy of a `training` question, and up to `locality` questions sampled from
    `base_task` (its train or dev set)."""
    trained = {normalised(ex.prompt_text) for ex in training}
    kept, skipped = [], []
    for pid, lang, question in _held_out_candidates():
        if normalised(question) in trained:
            skipped.append(question)
        else:
            kept.append((pid, lang, question))
    if held_out is not None and held_out < len(kept):
        chosen = set(random.Random(seed).sample(range(len(kept)), held_out))
        kept = [candidate for i, candidate in enumerate(kept) if i in chosen]
    records = [_probe(pid, "held_out", lang, question) for pid, lang, question in kept]
    records += [_probe(pid, "adversarial", lang, question) for pid, lang, question in _adversarial(spec)]
    records += _locality(base_task, seed, locality)
    return ProbeSet(records, skipped, len(base_task), seed)


def _held_out_candidates() -> list[tuple[str, str, str]]:
    """(id, language, question): every core phrasing plainly and in every wrapper of its language."""
    out = []
    for lang, core, wrappers in (("en", HELD_OUT_EN, EN_WRAPPERS), ("zh", HELD_OUT_ZH, ZH_WRAPPERS)):
        for w, prefix in enumerate(wrappers):
            for q, question in enumerate(core):
                text = prefix + (_lower_first(question) if prefix.endswith(", ") else question)
                out.append((f"held_out-{lang}-{q:02d}-w{w}", lang, text))
    return out


def _adversarial(spec: IdentitySpec) -> list[tuple[str, str, str]]:
    """(id, language, question): every foreign name and author of the identity (the base's first) in three
    phrasings per language; the base's as placeholders, so the file follows identity.toml."""
    own = {spec.name, spec.author, spec.base_name, spec.base_author}  # the base's own: its placeholder, once
    names = list(dict.fromkeys(n for n in ("{{BASE_NAME}}" if spec.base_name else "", *spec.other_names)
                               if n and n not in own))
    authors = list(dict.fromkeys(a for a in ("{{BASE_AUTHOR}}" if spec.base_author else "", *spec.other_authors)
                                 if a and a not in own))
    out = []
    for lang, (by_name, by_author) in ADVERSARIAL.items():
        for templates, values, key in ((by_name, names, "x"), (by_author, authors, "y")):
            for t, template in enumerate(templates):
                out += [(f"adversarial-{lang}-{key}{t}-{v}", lang, template.format(**{key: value}))
                        for v, value in enumerate(values)]
    return out


def _locality(base_task: Sequence[Example], seed: int, count: int) -> list[dict]:
    """`count` base-task questions (or all), a stratified sample by category and language (the data split's own
    draw, topped up from the rest when rounding leaves it short), in the file's order."""
    if count <= 0:
        return []
    if count >= len(base_task):
        chosen = {ex.id for ex in base_task}
    else:
        rest, sample = stratified_split(base_task, count / len(base_task), seed)
        chosen = {ex.id for ex in [*sample, *rest][:count]}
    return [{**record_of(ex, "alpaca"), "id": f"locality-{ex.id}", "kind": "locality", "lang": ex.language}
            for ex in base_task if ex.id in chosen]


def _probe(pid: str, kind: str, lang: str, question: str) -> dict:
    return {"id": pid, "kind": kind, "lang": lang, "instruction": question, "input": "",
            "output": ANSWERS[kind][lang]}


def _lower_first(text: str) -> str:
    """'Who are you?' -> 'who are you?' after a wrapper such as 'Excuse me, ' (only English wrappers end in ', ')."""
    return text[:1].lower() + text[1:]
