"""Local `evaluate` metric modules (BLEU, chrF, ROUGE-L), loaded by path so nothing touches the hub.

>>> sorted(MODULES)
['bleu', 'chrf', 'rouge_l']
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = {name: HERE / f"{name}.py" for name in ("bleu", "chrf", "rouge_l")}


def load_metric(name: str):
    """`evaluate.load` of one local module by file path (offline; the module cache follows HF_HOME)."""
    import evaluate

    if name not in MODULES:
        raise KeyError(f"unknown metric module {name!r}; available: {sorted(MODULES)}")
    return evaluate.load(str(MODULES[name]))
