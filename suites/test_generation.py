"""tunegate's generation suite: its tests live in the installed package (harness.suites.generation)."""

from harness.suites.generation import *  # noqa: F403
