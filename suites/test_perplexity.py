"""tunegate's perplexity suite: its tests live in the installed package (harness.suites.perplexity)."""

from harness.suites.perplexity import *  # noqa: F403
