"""tunegate's audit suite: its tests live in the installed package (harness.suites.audit)."""

from harness.suites.audit import *  # noqa: F403
