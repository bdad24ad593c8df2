"""Options and environment variables."""

from __future__ import annotations

from tests.bad_inputs.project import BadInput, Project, file_option

TITLE = "options and the environment"


def _unwritable_baselines(p: Project) -> list[str]:
    """Root may write anywhere: the check's permission probe is what is faked."""
    import harness.plugin.preflight

    p.monkeypatch.setattr(harness.plugin.preflight, "can_write", lambda folder: folder != p.baselines)
    return ["--save-baseline", "next"]


CASES = [
    BadInput("batch-size-zero", "--batch-size 0", lambda p: ["--batch-size", "0"],
             ("--batch-size must be at least 1",)),
    BadInput("batch-size-not-a-number", "--batch-size neither auto nor a number", lambda p: ["--batch-size", "many"],
             ("--batch-size", "expected auto or a whole number, got 'many'")),
    BadInput("ppl-stride-over-window", "--ppl-stride not below --ppl-window", lambda p: ["--ppl-stride", "300"],
             ("--ppl-stride", "300")),
    BadInput("anyway-without-save", "--save-baseline-anyway without --save-baseline",
             lambda p: ["--save-baseline-anyway"], ("--save-baseline-anyway needs --save-baseline NAME",)),
    BadInput("device-cuda-without-gpu", "--device cuda on a machine without a GPU", lambda p: ["--device", "cuda"],
             ("--device cuda", "no CUDA device")),
    BadInput("report-dir-file", "--report-dir naming a file", file_option("taken", "x", "--report-dir"),
             ("--report-dir", "taken", "is a file, expected a folder")),
    BadInput("save-baseline-unwritable", "--save-baseline into a folder that is not writable",
             _unwritable_baselines, ("--save-baseline", "baselines", "is not writable")),
    BadInput("env-world-size-not-a-number", "WORLD_SIZE in the environment that is not a number",
             lambda p: (p.monkeypatch.setenv("WORLD_SIZE", "two"), [])[1],
             ("WORLD_SIZE='two'", "is not a whole number")),
    BadInput("env-rank-left-over", "RANK=1 left in the environment of a plain run (it would write no report)",
             lambda p: (p.monkeypatch.setenv("RANK", "1"), p.monkeypatch.delenv("WORLD_SIZE", raising=False), [])[2],
             ("RANK=1 with WORLD_SIZE=unset", "unset RANK and WORLD_SIZE")),
]
