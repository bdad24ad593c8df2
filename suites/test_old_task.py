"""tunegate's old_task suite: its tests live in the installed package (harness.suites.old_task)."""

from harness.suites.old_task import *  # noqa: F403
