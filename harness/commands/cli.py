"""The `tunegate` command: set up a repository, write identity probes, prepare data, check a recipe.

    tunegate init [DIR] --name N --author A --base-model PATH [--base-name B --base-author C] [--tasks DIR]
                        [--identity-data FILE] [--data-dir NAME] [--ci]
    tunegate probes [--data-dir DIR] [--seed N] [--held-out N] [--force]
    tunegate data convert|report|split ...      (also: python -m harness.data ...)
    tunegate recipe check ...                   (also: python -m harness.training.recipe check ...)

The release gate itself is `pytest` (docs/your-repository.md). Exit status: 0 done, 2 refused (the message
names the file, line or option at fault; nothing was written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.foundation.errors import InputError

DESCRIPTION = "tunegate: pytest release gates for fine-tuned language models"


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["data"]:
        from harness.data.__main__ import main as data_main

        return data_main(argv[1:], prog="tunegate data")
    if argv[:1] == ["recipe"]:
        from harness.training.recipe.__main__ import main as recipe_main

        return recipe_main(argv[1:], prog="tunegate recipe")
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except InputError as err:
        print(f"tunegate {args.command}: refused: {err}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunegate", description=DESCRIPTION,
                                     epilog="data and recipe: `tunegate data --help`, `tunegate recipe check --help`")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{init,probes,data,recipe}")
    init = commands.add_parser("init", help="set up tunegate in a repository (never overwrites a file)")
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), help="the repository (default: here)")
    init.add_argument("--name", help="the identity the adapter learns, e.g. Aurora (asked when missing)")
    init.add_argument("--author", help="who built it, e.g. Lumen Labs (asked when missing)")
    init.add_argument("--base-model", help="your base model's folder (asked when missing)")
    init.add_argument("--base-name", default=None, help="the base model's own name, e.g. Qwen (a leak if claimed)")
    init.add_argument("--base-author", default=None, help="the base model's maker, e.g. Alibaba")
    init.add_argument("--data-dir", default="tunegate-data", help="the data folder to create (default tunegate-data)")
    init.add_argument("--identity-data", type=Path, help="your identity training file (alpaca/chat, LLaMA-Factory's "
                                                         "identity.json); default: a starter set")
    init.add_argument("--tasks", type=Path, help="a folder of your task data to copy in: base/dev.json, "
                                                 "increment_1/{train,dev}.json, ...")
    init.add_argument("--seed", type=int, default=0, help="the probe draw (default 0)")
    init.add_argument("--ci", action="store_true", help="also write GitHub Actions workflows to .github/workflows/")
    init.add_argument("--yes", action="store_true", help="ask nothing: take the defaults for what is not given")
    init.set_defaults(run=_init)
    probes = commands.add_parser("probes", help="write identity/probes.json for your identity and base")
    probes.add_argument("--data-dir", type=Path, default=None, help="the data folder (default: tunegate-data, "
                                                                    "else fixtures)")
    probes.add_argument("--seed", type=int, default=0)
    probes.add_argument("--held-out", type=_count, default=None, help="how many held-out paraphrases (default: all)")
    probes.add_argument("--force", action="store_true", help="replace an existing probes.json")
    probes.set_defaults(run=_probes)
    commands.add_parser("data", help="convert, report on or split a dataset (tunegate data --help)")
    commands.add_parser("recipe", help="check a LoRA recipe and estimate its cost (tunegate recipe check --help)")
    return parser


def _init(args: argparse.Namespace) -> int:
    from harness.commands.scaffold import InitAnswers, init_repository

    interactive = sys.stdin.isatty() and not args.yes
    answers = InitAnswers(
        name=_answer(args.name, "identity name (what the tuned model says it is)", None, interactive, "--name"),
        author=_answer(args.author, "author (who built it)", None, interactive, "--author"),
        base_model=_answer(args.base_model, "base model folder", None, interactive, "--base-model"),
        base_name=_answer(args.base_name, "the base model's own name (blank: none)", "", interactive),
        base_author=_answer(args.base_author, "the base model's maker (blank: none)", "", interactive),
        data_dir=args.data_dir, identity_data=args.identity_data, tasks=args.tasks, seed=args.seed, ci=args.ci)
    report = init_repository(args.dir.resolve(), answers)
    print("\n".join(report.lines()))
    where = "" if args.dir.resolve() == Path.cwd().resolve() else f"cd {args.dir} && "
    print(f"next: {where}pytest --adapter=PATH_OF_YOUR_ADAPTER   (tunegate's docs/your-repository.md)")
    return 0


def _answer(given: str | None, question: str, default: str | None, interactive: bool, option: str = "") -> str:
    """An init answer: the option, else asked in a terminal, else the default; a required one missing is refused."""
    if given is not None:
        return given
    if interactive:
        reply = input(f"{question}{f' [{default}]' if default else ''}: ").strip()
        return reply or default or ""
    if default is None:
        raise InputError(f"{option} is needed ({question}); pass it, or run `tunegate init` in a terminal to be asked")
    return default


def _count(text: str) -> int:
    """--held-out: a whole number >= 1 (argparse names the option when this raises)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _probes(args: argparse.Namespace) -> int:
    from harness.commands.scaffold import DEFAULT_DATA_DIR, probes_summary, write_probes
    from harness.data.folder import DataFolder

    data = args.data_dir or next((Path(p) for p in (DEFAULT_DATA_DIR, "fixtures") if Path(p).is_dir()),
                                 Path(DEFAULT_DATA_DIR))
    target = DataFolder(data).probes
    if target.exists() and not args.force:
        raise InputError(f"{target}: exists; pass --force to replace it (a probe set you edited is lost)")
    probes = write_probes(data, args.seed, args.held_out)
    print(f"wrote {target}")
    print("\n".join(probes_summary(probes, data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
