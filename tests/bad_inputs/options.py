"""Options and environment variables."""

from __future__ import annotations

from tests.bad_inputs.project import ACCEPTED, BadInput, Plant, Project, file_option

TITLE = "options and the environment"


def _cache_variable(value: str) -> Plant:
    """TUNEGATE_CACHE_DIR set to `value` ("file": a file of the project), the project's pytest.ini without
    --cache-dir (the variable is its default)."""
    def plant(p: Project) -> list[str]:
        if value == "file":
            (p.root / "cache-file").write_text("x")
        p.monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(p.root / "cache-file") if value == "file" else value)
        p.write_ini()
        p.rewrite(p.root / "pytest.ini", lambda text: text.replace(" --cache-dir cache", ""))
        return []
    return plant


def _world_size_left_over(p: Project) -> list[str]:
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        p.monkeypatch.delenv(name, raising=False)
    p.monkeypatch.setenv("WORLD_SIZE", "2")
    return []


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
    BadInput("max-new-tokens-over-context", "--max-new-tokens 5000 on the 256-position built-in model (once told to "
             "shorten a short record)", lambda p: ["--max-new-tokens", "5000"],
             ("config.json key max_position_embeddings = 256", "--max-new-tokens 5000: no prompt fits")),
    BadInput("max-new-tokens-zero", "--max-new-tokens 0", lambda p: ["--max-new-tokens", "0"],
             ("--max-new-tokens must be at least 1, got 0",)),
    BadInput("max-new-tokens-negative", "--max-new-tokens -5", lambda p: ["--max-new-tokens=-5"],
             ("--max-new-tokens must be at least 1, got -5",)),
    BadInput("ppl-window-zero", "--ppl-window 0", lambda p: ["--ppl-window", "0"],
             ("--ppl-window must be at least 2 tokens, got 0",)),
    BadInput("ppl-window-negative", "--ppl-window -8", lambda p: ["--ppl-window=-8"],
             ("--ppl-window must be at least 2 tokens, got -8",)),
    BadInput("ppl-stride-zero", "--ppl-stride 0", lambda p: ["--ppl-stride", "0"],
             ("--ppl-stride must be in [1, 255]", "got 0")),
    BadInput("train-seed-out-of-range", "--train-seed 2**64 (torch refused it only when training started)",
             lambda p: ["--train-seed", str(2**64)], ("--train-seed must be in [0, 4294967295]", "got 1844674")),
    BadInput("baseline-dir-file", "--baseline-dir naming a file (once: baseline 'release' not found at "
             "FILE/release.json)",
             lambda p: ((p.root / "taken").write_text("x"), ["--baseline-dir", str(p.root / "taken"), "--baseline",
                                                             "release"])[1],
             ("--baseline-dir", "taken: is a file, expected a folder")),
    BadInput("data-dir-file", "--data-dir naming a file (once accepted: every suite skipped)",
             lambda p: ((p.root / "taken").write_text("x"), ["--data-dir", str(p.root / "taken"), "--gates",
                                                             str(p.data / "gates.toml")])[1],
             ("--data-dir", "taken: is a file, expected the data folder")),
    BadInput("data-dir-missing", "--data-dir naming no folder, with --gates given (once accepted: every suite "
             "skipped)", lambda p: ["--data-dir", str(p.root / "dta"), "--gates", str(p.data / "gates.toml")],
             ("--data-dir", "dta: no such folder")),
    BadInput("env-cache-dir-file", "TUNEGATE_CACHE_DIR naming a file (once reported as --cache-dir)",
             _cache_variable("file"), ("TUNEGATE_CACHE_DIR=", "is a file, expected the cache folder"),
             in_repository=True),
    BadInput("env-cache-dir-blank", "TUNEGATE_CACHE_DIR holding only blanks (once: a cache folder named '  ')",
             _cache_variable("  "), ("TUNEGATE_CACHE_DIR='  ' holds only blanks",), in_repository=True),
    BadInput("env-cache-dir-empty", "TUNEGATE_CACHE_DIR set but empty: accepted as unset, as most tools read an empty "
             "variable (the cache is .tunegate-cache; results.json records cache_dir)", _cache_variable(""), (),
             exit=ACCEPTED, in_repository=True),
    BadInput("env-local-rank-not-a-number", "LOCAL_RANK in the environment that is not a number",
             lambda p: (p.monkeypatch.setenv("LOCAL_RANK", "gpu0"), [])[1],
             ("LOCAL_RANK='gpu0'", "is not a whole number")),
    BadInput("env-local-world-size-not-a-number", "LOCAL_WORLD_SIZE in the environment that is not a number",
             lambda p: (p.monkeypatch.setenv("LOCAL_WORLD_SIZE", "1.5"), [])[1],
             ("LOCAL_WORLD_SIZE='1.5'", "is not a whole number")),
    BadInput("env-world-size-left-over", "WORLD_SIZE=2 left in the environment of a plain run (process 0 would wait "
             "for a second process forever once a model runs)", _world_size_left_over,
             ("WORLD_SIZE=2 without RANK, MASTER_ADDR, MASTER_PORT", "unset WORLD_SIZE")),
    BadInput("env-step-summary-folder", "GITHUB_STEP_SUMMARY naming a folder (once: exit 4 at the very end, after "
             "every test ran)", lambda p: (p.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(p.root)), [])[1],
             ("GITHUB_STEP_SUMMARY=", "is a folder; the end of the run appends summary.md")),
    BadInput("history-not-csv", "--history naming a file that is neither .csv nor .parquet",
             lambda p: ["--history", str(p.root / "history.txt")], ("--history", "history.txt: the file must end in "
                                                                    ".csv or .parquet")),
    BadInput("history-folder", "--history naming a folder", lambda p: ((p.root / "h.csv").mkdir(),
                                                                        ["--history", str(p.root / "h.csv")])[1],
             ("--history", "h.csv: is a folder, expected a .csv or .parquet file")),
    BadInput("adapter-and-tuned-model", "--adapter and --tuned-model together",
             lambda p: ["--adapter", str(p.adapter), "--tuned-model", str(p.model)],
             ("--adapter and --tuned-model: give one",)),
    BadInput("request-cache-without-answer-cache", "--request-cache with --no-answer-cache",
             lambda p: ["--request-cache", str(p.root / "answers.sqlite"), "--no-answer-cache"],
             ("--request-cache and --no-answer-cache: give one",)),
    BadInput("save-baseline-bad-name", "--save-baseline naming a path, not a name (it would write outside "
             "--baseline-dir)", lambda p: ["--save-baseline", "../escape"],
             ("--save-baseline ../escape: baseline name '../escape'", "letters, digits")),
    BadInput("checkpoints-missing", "--checkpoints naming no folder", lambda p: ["--checkpoints", str(p.root / "runz")],
             ("--checkpoints", "runz: no such file or folder")),
    BadInput("env-rank-zero-padded", "RANK='00' (process 0, written another way): accepted, and the run writes its "
             "report (it once counted as another process and wrote none, silently)",
             lambda p: (p.monkeypatch.setenv("RANK", "00"), p.monkeypatch.delenv("WORLD_SIZE", raising=False),
                        ["--report-dir", str(p.root / "new-reports")])[2],
             ("report: ", "new-reports", "tunegate PASS"), exit=ACCEPTED, runs_tests=True),
    # --- an option given empty: what `--flag="$VAR"` passes when the CI variable is unset ---
    *[BadInput(f"{flag[2:]}-empty", f"{flag}= (an unset CI variable; once {once})", lambda p, flag=flag: [f"{flag}="],
               (f"{flag} ''", "the value is empty (an unset variable")) for flag, once in (
        ("--adapter", "run without the adapter, exit 0"), ("--report-dir", "reports written into the rootdir"),
        ("--base-model", "a missing config.json named, not the option"),
        ("--data-dir", "the default data folder used instead of pytest.ini's"), ("--gates", "read as not given"),
        ("--request-cache", "read as not given"), ("--baseline-dir", "baselines looked for in the rootdir"))],
    BadInput("env-world-size-zero", "WORLD_SIZE=0 in the environment (once accepted)",
             lambda p: (p.monkeypatch.setenv("WORLD_SIZE", "0"), [])[1], ("WORLD_SIZE=0", "a launch of no processes")),
]
