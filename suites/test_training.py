"""tunegate's training suite: its tests live in the installed package (harness.suites.training)."""

from harness.suites.training import *  # noqa: F403
