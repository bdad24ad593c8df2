"""tunegate's new_task suite: its tests live in the installed package (harness.suites.new_task)."""

from harness.suites.new_task import *  # noqa: F403
