"""`python -m harness.training.recipe check --recipe FILE:TABLE --base-model DIR|builtin [--data FILE]`: the recipe
check and resource estimate (`harness.training.recipe_check`)."""

from __future__ import annotations

import sys

from harness.training.recipe_check import main

if __name__ == "__main__":
    if sys.argv[1:2] != ["check"]:
        sys.exit("usage: python -m harness.training.recipe check --recipe FILE:TABLE --base-model DIR|builtin "
                 "[--data FILE]")
    sys.exit(main(sys.argv[2:]))
