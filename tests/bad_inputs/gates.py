"""Gate configs: unreadable, unknown metrics, and gates that could never fail."""

from __future__ import annotations

from tests.bad_inputs.project import ACCEPTED, BadInput, Project, bom

TITLE = "gate configs"


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
]
