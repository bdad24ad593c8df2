"""`python -m tests.bad_inputs [PAGE]`: rewrite the refusal tables of PAGE (docs/refusals.md by default)."""

import sys
from pathlib import Path

from tests.bad_inputs import CASES, ROOT, readme_with_table

target = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs/refusals.md")
target.write_text(readme_with_table(target.read_text(encoding="utf-8")), encoding="utf-8")
print(f"{target}: table of {len(CASES)} bad inputs written")
