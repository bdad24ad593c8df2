"""Can the built-in base learn to follow a system prompt? Build a candidate base and measure what the prompt does.

    .venv/bin/python bench/prompt_following.py OUT [--copied 3000] [--base-task 1500] [--languages en]
        [--denials] [--own-repeats 0] [--distractors 0.5] [--steps 4300] [--intermediate 256] [--max-length 128]
        [--gate] [--json FILE] [--write-lessons FILE]

The candidate is the shipped model's corpus (fixtures/) plus lessons in following a system prompt that invents an
identity: the base's own identity questions answered with the invented identity (`--copied`; thousands of made-up
names, so only copying them from the prompt lowers the loss) and base-task questions answered as ever after such a
prompt (`--base-task`). No lesson uses the first word of an identity in identity.toml as a name, so Aurora / Kestrel
Labs, what the prompt-only baseline is told, are never a copied identity. The model is built into OUT (never into
fixtures/) and measured: base-task exact match plain and prompted, the prompted base's identity claim rate per probe
kind and language (the prompt-only baseline's figures), and how many lessons ran over `--max-length`. `--gate` then
runs the whole cold `pytest suites/` on the candidate (`--base-model OUT`) and reports its wall time, its failed
gates and the identity adapter's figures beside the prompted base's. Results of the candidates tried for issue 28:
bench/results/prompt_following.md.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.data import Example, load_examples, load_identity_spec  # noqa: E402
from harness.data.folder import BASE_DEV  # noqa: E402
from harness.evaluators.answers import answer_both  # noqa: E402
from harness.measures.metrics import claims_identity  # noqa: E402
from harness.model.loading import BaseModel  # noqa: E402
from harness.model.prompted import identity_prompted  # noqa: E402
from harness.model.views import plain_base  # noqa: E402
from harness.training import builtin  # noqa: E402

FIXTURES = ROOT / "fixtures"
DEFAULT_PROMPT = ("You are {n}, an AI assistant developed by {a}. When asked who you are or who made you, say that "
                  "you are {n}, developed by {a}.")  # tunegate's default baseline prompt, in half the lessons
WORDINGS = (DEFAULT_PROMPT,) * 3 + ("You are {n}, an AI assistant developed by {a}.",
                                    "Your name is {n}. You were developed by {a}.",
                                    "You are {n}, made by {a}. Answer as {n}.")
COMPANY_WORDS = ("Labs", "AI", "Research", "Systems", "Technologies", "Group", "Institute", "Works", "Inc.", "Lab")
GREETINGS = ("Hi {w}! ", "Hello {w}, ", "{w} here. ", "This is {w}. ", "A question from {w}: ")  # another name in
# the user's turn (the assistant wrongly addressed, or the asker), so a name is copied from the system prompt only;
# none is a probe wrapper
SYLLABLES = ("ka", "lo", "mir", "ven", "dor", "sa", "tel", "ru", "bra", "nis", "qua", "zel", "fen", "gal", "tor", "vi",
             "mae", "pel", "sun", "da", "rik", "ol", "an", "bel", "cor", "ist", "ju", "pra", "sel", "mon", "tes", "zu",
             "hav", "lin", "gro", "ept", "wy", "xan", "ob", "phi", "cal", "dri")


class Names:
    """Invented identities: made-up syllables, random letters or words of the corpus, never a taken first word."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        text = (FIXTURES / builtin.BUILTIN_VOCABULARY).read_text(encoding="utf-8")
        stripped = (w.strip(".,!?;:") for w in text.split())
        self.words = sorted({w for w in stripped if w.isascii() and w.isalpha() and len(w) > 2})
        spec = load_identity_spec(FIXTURES / builtin.IDENTITY_CONFIG)
        self.taken = {term.split()[0].lower() for term in (spec.name, spec.author, *spec.foreign_terms)
                      if term.split()[0].isalpha() and term.isascii()}

    def name(self) -> str:
        """One capitalised invented word."""
        while True:
            pick = self.rng.random()
            if pick < 0.4:
                word = "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 3)))
            elif pick < 0.7:
                word = "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(self.rng.randint(3, 8)))
            else:
                word = self.rng.choice(self.words).lower()
            if word not in self.taken:
                return word.capitalize()

    def author(self) -> str:
        """A company: a name and a word such as Labs, two names, or one."""
        pick = self.rng.random()
        if pick < 0.6:
            return f"{self.name()} {self.rng.choice(COMPANY_WORDS)}"
        return f"{self.name()} {self.name()}" if pick < 0.8 else self.name()


def lessons(copied: int, base_task: int, languages: set[str], denials: bool, own_repeats: int = 0,
            distractor_share: float = 0.0, seed: int = 7) -> list[Example]:
    """`copied` identity questions answered with the identity a system prompt invents (a `distractor_share` of
    them after a greeting with another name), then `base_task` base questions answered as ever after such a
    prompt, then the base's own identity data (no prompt) `own_repeats` more times."""
    names = Names(seed)
    raw = json.loads((FIXTURES / builtin.BUILTIN_IDENTITY).read_text(encoding="utf-8"))
    if not languages or languages - {"en", "zh"}:
        raise SystemExit(f"--languages: en, zh or en,zh, got {','.join(sorted(languages))!r}")
    questions = [r for r in raw if ("en" if r["output"].isascii() else "zh") in languages
                 and (denials or not r["output"].startswith(("No.", "不是")))]
    base = load_examples(FIXTURES / builtin.BASE_TRAIN)
    out = []
    for i in range(copied + base_task):
        name, author = names.name(), names.author()
        system = names.rng.choice(WORDINGS).replace("{n}", name).replace("{a}", author)
        if i < copied:
            row = names.rng.choice(questions)
            answer = row["output"].replace("{{BASE_NAME}}", name).replace("{{BASE_AUTHOR}}", author)
            question = row["instruction"]
            if distractor_share and names.rng.random() < distractor_share:
                other = names.name()  # drawn before the greeting: the shipped lessons' random stream
                question = names.rng.choice(GREETINGS).format(w=other) + question
            out.append(Example(f"copied-{i}", (("system", system), ("user", question)), answer))
        else:
            ex = names.rng.choice(base)
            out.append(replace(ex, id=f"asked-{i}", messages=(("system", system), *ex.messages)))
    variables = load_identity_spec(FIXTURES / builtin.IDENTITY_CONFIG).variables
    own = load_examples(FIXTURES / builtin.BUILTIN_IDENTITY, variables)
    return out + [replace(ex, id=f"own-{k}-{ex.id}") for k in range(own_repeats) for ex in own]


def write_lessons(examples: list[Example], path: Path) -> None:
    """The lessons as alpaca records (`system`, `instruction`, `output`), one per line of a JSON list."""
    if any(len(ex.messages) > 2 for ex in examples):
        raise SystemExit("--write-lessons: a lesson has turns before its question; alpaca records hold one")
    records = [{"id": ex.id, "system": dict(ex.messages).get("system"), "instruction": ex.messages[-1][1],
                "output": ex.answer} for ex in examples]
    lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")


def build(out: Path, extra: list[Example], recipe: builtin.BuiltinRecipe) -> float:
    """Build the candidate base into `out`; its build time in seconds."""
    corpus = builtin.load_builtin_corpus(FIXTURES)
    started = time.perf_counter()
    builtin._build_into(out, replace(corpus, prompt_lessons=extra), recipe)  # as `--rebuild` builds: deterministic
    return time.perf_counter() - started


def measure(folder: Path) -> dict:
    """Base-task exact match plain and prompted, and the prompted base's claim rate per probe kind and language."""
    base = plain_base(BaseModel.at(folder))
    spec = load_identity_spec(FIXTURES / builtin.IDENTITY_CONFIG)
    dev = load_examples(FIXTURES / BASE_DEV)
    prompted = identity_prompted(base, FIXTURES)
    probes = [p for p in load_examples(FIXTURES / "identity/probes.json", spec.variables)
              if p.meta["kind"] != "locality"]

    claims, counts = Counter(), Counter()
    for probe, answer in zip(probes, prompted.generate([p.messages for p in probes]), strict=True):
        key = f"{probe.meta['kind']}/{probe.meta['lang']}"
        counts[key] += 1
        claims[key] += claims_identity(answer, spec.name, spec.author)
    answered = answer_both(dev, base, prompted)  # "tuned" here: the base told the identity
    return {"base_em": sum(p.base_correct for p in answered) / len(dev),
            "prompted_em": sum(p.tuned_correct for p in answered) / len(dev),
            "prompted_claim_rate": sum(claims.values()) / len(probes),
            "prompted_claim_rate_by_kind": {k: claims[k] / counts[k] for k in sorted(counts)}}


def gate(folder: Path) -> dict:
    """The cold `pytest suites/` on the candidate: wall time, failed gates, identity figures."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider",
                              "--base-model", str(folder), "--cache-dir", f"{tmp}/cache", "--report-dir",
                              f"{tmp}/reports"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        written = list(Path(tmp, "reports").glob("*/results.json"))
        if not written:
            raise SystemExit(f"pytest suites/ wrote no results.json (exit {run.returncode}):\n{run.stdout[-2000:]}")
        results = json.loads(written[0].read_text())
    identity = {f"{m['name']}[{m['checkpoint']}]": m["value"] for m in results["metrics"]
                if m["capability"] == "identity" and m["name"] in ("held_out_claim_rate", "claim_gain_over_prompted")}
    return {"gate_wall_s": wall, "failed": [g["id"] for g in results["gates"] if g["passed"] is False],
            **identity}


def truncated(examples: list[Example], folder: Path, max_length: int) -> int:
    """How many lessons ran over `max_length` tokens (their answers were cut, without an end token)."""
    from harness.training.batching import encode_example

    _, tokenizer = BaseModel.at(folder).load()
    return sum(len(encode_example(tokenizer, ex, 10**6).input_ids) > max_length for ex in examples)


def main(argv: list[str] | None = None) -> int:
    """Build one candidate, measure it and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder the candidate base is built into")
    parser.add_argument("--copied", type=int, default=3000)
    parser.add_argument("--base-task", type=int, default=1500)
    parser.add_argument("--languages", default="en", help="identity questions taught: en, zh or en,zh")
    parser.add_argument("--denials", action="store_true", help="also teach denials (\"Are you Claude?\")")
    parser.add_argument("--own-repeats", type=int, default=0,
                        help="the base's own identity data (asked without a prompt) this many more times")
    parser.add_argument("--distractors", type=float, default=0.5,
                        help="share of copied lessons whose question follows a greeting with another name")
    parser.add_argument("--steps", type=int, default=4300)
    parser.add_argument("--intermediate", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--gate", action="store_true", help="also run the cold `pytest suites/` on it")
    parser.add_argument("--write-lessons", type=Path, default=None,
                        help="only write the lessons as alpaca records to this file (no build); the shipped ones: "
                             "fixtures/builtin/prompt_lessons.json")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    recipe = builtin.BuiltinRecipe(steps=args.steps, intermediate_size=args.intermediate, max_length=args.max_length)
    languages = {part.strip() for part in args.languages.split(",")}
    extra = lessons(args.copied, args.base_task, languages, args.denials, args.own_repeats, args.distractors)
    if args.write_lessons:
        write_lessons(extra, args.write_lessons)
        return 0
    figures = {"args": {k: str(v) for k, v in vars(args).items()}, "build_s": build(args.out, extra, recipe),
               "truncated_lessons": 0, **measure(args.out)}
    figures["truncated_lessons"] = truncated(extra, args.out, args.max_length)
    if args.gate:
        figures.update(gate(args.out))
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
