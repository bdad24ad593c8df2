"""tunegate's identity suite: its tests live in the installed package (harness.suites.identity)."""

from harness.suites.identity import *  # noqa: F403
