"""tunegate's latency suite: its tests live in the installed package (harness.suites.latency)."""

from harness.suites.latency import *  # noqa: F403
