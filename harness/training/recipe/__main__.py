"""`python -m harness.training.recipe check --recipe FILE:TABLE --base-model DIR|builtin [--data FILE]` (also
`tunegate recipe check ...`): the recipe check and resource estimate (`harness.training.recipe_check`)."""

from __future__ import annotations

import sys


def main(argv: list[str], prog: str = "python -m harness.training.recipe") -> int:
    """`check ARGS`: the recipe check; anything else prints the usage (exit 2)."""
    from harness.training.recipe_check import main as check

    if argv[:1] != ["check"]:
        print(f"usage: {prog} check --recipe FILE:TABLE --base-model DIR|builtin [--data FILE]", file=sys.stderr)
        return 2
    return check(argv[1:], prog=f"{prog} check")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
