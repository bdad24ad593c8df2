"""`python -m harness.data convert|report|split` (also `tunegate data ...`): data preparation as a checked step
(`harness.data.prep`).

  convert SRC DST --to alpaca|chat|completion     records of any format (JSON or JSONL) to another
  report TRAIN [--dev DEV] [--base-model DIR] [--max-length N]
                                                  the validation report; exit 1 on leakage or blank fields
  split SRC OUT_DIR [--dev-fraction 0.1] [--seed 0] [--to FORMAT]
                                                  a stratified train/dev split and its manifest
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.data import load_examples
from harness.data.prep import FORMATS, dataset_report, record_of, report_lines, write_records, write_split
from harness.foundation.errors import InputError


def _lengths(base: str | None, examples) -> list[int] | None:
    """Tokens of each example's prompt and answer text in the base's tokenizer (the chat template's own tokens
    not counted: `python -m harness.training.recipe check --data` counts those too)."""
    if not base:
        return None
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    return [len(tokenizer("\n".join(t for _, t in ex.messages) + "\n" + ex.answer)["input_ids"]) for ex in examples]


def main(argv: list[str] | None = None, prog: str = "python -m harness.data") -> int:
    """Run one subcommand; 0 when it succeeded (and a report found no leak or blank field), 1 when the report did,
    2 on unreadable input (the message names the file and line)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert records to another format")
    convert.add_argument("source", type=Path)
    convert.add_argument("target", type=Path)
    convert.add_argument("--to", choices=FORMATS, required=True)
    report = commands.add_parser("report", help="the validation report of a training set (and its dev set)")
    report.add_argument("train", type=Path)
    report.add_argument("--dev", type=Path)
    report.add_argument("--base-model", help="a model folder whose tokenizer counts the tokens")
    report.add_argument("--max-length", type=int)
    split = commands.add_parser("split", help="a deterministic stratified train/dev split")
    split.add_argument("source", type=Path)
    split.add_argument("out_dir", type=Path)
    split.add_argument("--dev-fraction", type=float, default=0.1)
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--to", choices=FORMATS, default="alpaca")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except InputError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "convert":
        examples = load_examples(args.source)
        write_records(args.target, [record_of(ex, args.to) for ex in examples])
        print(f"{args.target}: {len(examples)} {args.to} records from {args.source}")
        return 0
    if args.command == "split":
        manifest = write_split(args.source, args.out_dir, args.dev_fraction, args.seed, args.to)
        print(f"{args.out_dir}: train {manifest['train']['records']}, dev {manifest['dev']['records']} "
              f"({len(manifest['strata'])} strata, seed {args.seed}); manifest {args.out_dir / 'split_manifest.json'}")
        return 0
    train = load_examples(args.train)
    dev = load_examples(args.dev) if args.dev else []
    result = dataset_report(args.train.stem, train, dev, _lengths(args.base_model, train), args.max_length)
    print("\n".join(report_lines(result)))
    return 1 if result.leaks or result.blank_fields else 0


if __name__ == "__main__":
    sys.exit(main())
