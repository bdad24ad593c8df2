"""tunegate's forgetting suite: its tests live in the installed package (harness.suites.forgetting)."""

from harness.suites.forgetting import *  # noqa: F403
