"""tunegate's shadow suite: its tests live in the installed package (harness.suites.shadow)."""

from harness.suites.shadow import *  # noqa: F403
