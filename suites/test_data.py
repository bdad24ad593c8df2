"""tunegate's data suite: its tests live in the installed package (harness.suites.data)."""

from harness.suites.data import *  # noqa: F403
