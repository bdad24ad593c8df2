"""Gate configs: unreadable, unknown metrics, and gates that could never fail."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.bad_inputs.project import ACCEPTED, BadInput, Project, bom, replace_in

TITLE = "gate configs"


def _gate(old: str, new: str) -> Callable[[Project], list[str]]:
    """gates.toml with the line `old` (a whole `key = value`) replaced by `new`."""
    return replace_in("gates.toml", old, new)


def _appended(text: str) -> Callable[[Project], list[str]]:
    """gates.toml with `text` appended (a table of its own)."""
    return lambda p: ((p.data / "gates.toml").write_text((p.data / "gates.toml").read_text() + text), [])[1]


def _table_as_value(table: str, value: str) -> Callable[[Project], list[str]]:
    """gates.toml with the table `[table]` dropped and `table = value` written at the top instead."""
    def plant(p: Project) -> list[str]:
        p.rewrite(p.data / "gates.toml", lambda t: f"{table} = {value}\n" + re.sub(
            rf"^\[{table}\][^\[]*", "", t, count=1, flags=re.M))
        return []
    return plant


EXACT = 'exact_match = ">= 0.85"'
BASELINE_EXACT = '"old_task.exact_match" = "-2% beyond noise"'


def _no_gate_config(p: Project) -> list[str]:
    (p.data / "gates.toml").unlink()
    return []


CASES = [
    BadInput("gates-bom", "a gates TOML with a UTF-8 byte-order mark", bom("gates.toml"), (), ACCEPTED),
    BadInput("gates-folder", "--gates naming a folder", lambda p: ["--gates", str(p.data)],
             ("data", "is a folder, expected a gate config TOML file")),
    BadInput("gates-latin-1", "a gates TOML in latin-1",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: "# café\n" + t, "latin-1"), [])[1],
             ("gates.toml", "not UTF-8")),
    BadInput("gates-bad-toml", "a gates file that is not TOML",
             lambda p: ((p.data / "gates.toml").write_text("[old_task\n"), [])[1], ("gates.toml",)),
    BadInput("gates-unknown-metric", "a gate on a metric no capability has",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: t.replace("heldout_ratio =", "heldout_ratioo =")),
                        [])[1], ("gates.toml", "heldout_ratioo")),
    BadInput("gates-infinite-threshold", "a threshold of 1e999 on an unbounded ratio (a gate no value fails)",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: t.replace('heldout_ratio = "<= 1.25 beyond noise"',
                                                                             'heldout_ratio = "<= 1e999"')), [])[1],
             ("gates.toml", "perplexity.heldout_ratio", "threshold 1e999 is not a finite number")),
    BadInput("gates-baseline-good-direction", "a [baseline] bound that limits only the good direction: \"+2%\" on "
             "a higher-is-better metric lets any drop pass",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: t.replace(
                 '"old_task.exact_match" = "-2% beyond noise"', '"old_task.exact_match" = "+2% beyond noise"')), [])[1],
             ("gates.toml", "old_task.exact_match", "so any drop passes", '"-2% beyond noise"')),
    BadInput("no-gate-config", "a tunegate suite collected with no gate config anywhere", _no_gate_config,
             ("test_suite.py: a tunegate suite, but no gate config was found", "data/gates.toml", "tunegate init")),
    # --- types, not only keys (issue 27) ---
    BadInput("gates-threshold-a-number", "a threshold written as a number, not a string",
             _gate(EXACT, "exact_match = 0.85"), ("gates.toml", "old_task.exact_match", "got 0.85")),
    BadInput("gates-threshold-a-table", "a threshold written as an inline table",
             _gate(EXACT, "exact_match = { min = 0.85 }"), ("gates.toml", "old_task.exact_match", "got {'min': 0.85}")),
    BadInput("gates-section-a-string", "a capability's gates written as one value (latency = \"off\"), not a table",
             _table_as_value("latency", '"off"'), ("gates.toml", "[latency] must be a table of metric")),
    BadInput("gates-unknown-rule", "a rule word misspelt (\"beyond noisy\")",
             _gate('exact_match_drop = "<= 0.05 beyond noise"', 'exact_match_drop = "<= 0.05 beyond noisy"'),
             ("gates.toml", "old_task.exact_match_drop", "'<= 0.05 beyond noisy'")),
    BadInput("gates-threshold-nan", "a threshold of nan", _gate(EXACT, 'exact_match = ">= nan"'),
             ("gates.toml", "old_task.exact_match", "got '>= nan'")),
    BadInput("gates-duplicate-key", "one gate written twice in a table (TOML refuses a redefined key)",
             _gate(EXACT, EXACT + "\n" + 'exact_match = ">= 0.9"'), ("gates.toml", "not valid TOML")),
    BadInput("gates-deeply-nested", "a gates file nesting 100 000 arrays (the TOML parser recurses)",
             lambda p: ((p.data / "gates.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000), [])[1],
             ("gates.toml", "nested too deeply to read")),
    BadInput("gates-file-missing", "--gates naming no file", lambda p: ["--gates", str(p.root / "nope.toml")],
             ("nope.toml", "gate config file not found")),
    BadInput("gates-unknown-capability", "a table for a capability no suite has",
             _appended('\n[identiy]\nleak_rate = "<= 0"\n'), ("gates.toml", "unknown capability 'identiy'")),
    BadInput("gates-baseline-not-a-table", "[baseline] written as one value, not a table",
             _table_as_value("baseline", '"-2%"'), ("gates.toml", "[baseline] must be a table")),
    BadInput("gates-baseline-unknown-metric", "a [baseline] bound on a metric no capability has",
             _gate(BASELINE_EXACT, '"old_task.exact_matc" = "-2% beyond noise"'),
             ("gates.toml", "[baseline] 'old_task.exact_matc' is not a known capability.metric")),
    BadInput("gates-baseline-bound-a-number", "a [baseline] bound written as a number",
             _gate(BASELINE_EXACT, '"old_task.exact_match" = -0.02'),
             ("gates.toml", "[baseline] old_task.exact_match", "got -0.02")),
    BadInput("gates-baseline-unsigned", "a [baseline] bound without its sign (\"2%\": which way?)",
             _gate(BASELINE_EXACT, '"old_task.exact_match" = "2%"'),
             ("gates.toml", "[baseline] old_task.exact_match", "expected a signed bound", "got '2%'")),
    BadInput("gates-graded-by-not-a-list", "a [graded_by] rule naming one capability as a string, not a list",
             _appended('\n[graded_by]\n"adapters/*" = "old_task"\n'),
             ("gates.toml", "[graded_by] 'adapters/*'", "expected a list of capability names")),
    BadInput("gates-graded-by-cannot-grade", "a [graded_by] rule naming a capability that cannot grade a model",
             _appended('\n[graded_by]\n"adapters/*" = ["forgetting"]\n'),
             ("gates.toml", "[graded_by] 'adapters/*'", "forgetting cannot grade a model you bring")),
    # --- gates that could never fail (issue 27) ---
    BadInput("gates-threshold-outside-range", "a threshold outside the metric's range (<= 1.5 on a rate)",
             _gate('leak_rate = "<= 0.01"', 'leak_rate = "<= 1.5"'),
             ("gates.toml", "identity.leak_rate", "threshold 1.5 is outside the metric's range [0, 1]")),
    BadInput("gates-never-met", "a threshold no value can meet (> 1 on a rate)",
             _gate(EXACT, 'exact_match = "> 1"'), ("gates.toml", "old_task.exact_match", "> 1 can never be met")),
    BadInput("gates-always-met", "a threshold every value meets (<= 1 on a rate: the gate cannot fail)",
             _gate('leak_rate = "<= 0.01"', 'leak_rate = "<= 1"'),
             ("gates.toml", "identity.leak_rate", "<= 1 is met by every value in [0, 1]")),
    BadInput("gates-always-met-unbounded", "a floor at the bottom of an unbounded ratio (>= 0 on throughput)",
             _gate('throughput_ratio = ">= 0.4"', 'throughput_ratio = ">= 0"'),
             ("gates.toml", "latency.throughput_ratio", ">= 0 is met by every value in [0, inf]")),
    BadInput("gates-baseline-whole-percent", "a [baseline] bound of -100% on a metric that cannot go negative",
             _gate(BASELINE_EXACT, '"old_task.exact_match" = "-100%"'),
             ("gates.toml", "[baseline] old_task.exact_match", "allows a drop across the metric's whole range")),
    BadInput("gates-baseline-whole-range", "a [baseline] bound as wide as the metric's range (-1 on a rate)",
             _gate('"identity.held_out_claim_rate" = "-5% beyond noise"', '"identity.held_out_claim_rate" = "-1"'),
             ("gates.toml", "[baseline] identity.held_out_claim_rate",
              "allows a drop across the metric's whole range [0, 1]")),
    BadInput("gates-threshold-a-boolean", "a threshold written as false (once shown in Python's spelling, False)",
             _gate('leak_rate = "<= 0.01"', "leak_rate = false"),
             ("gates.toml", "identity.leak_rate", "got false (a boolean)")),
]
