"""tunegate's adapter_health suite: its tests live in the installed package (harness.suites.adapter_health)."""

from harness.suites.adapter_health import *  # noqa: F403
