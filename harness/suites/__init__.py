"""The capability suites, one module per capability (fixture -> registered capability -> one test per gate).

A suite file in your repository star-imports one of these (`tunegate init` writes them), so its tests, fixtures
and marks come from the installed package and an upgrade of tunegate changes them without re-copying:

    from harness.suites.identity import *  # noqa: F403
"""

CAPABILITY_SUITES = ("identity", "old_task", "new_task", "perplexity", "adapter_health", "generation", "latency",
                     "forgetting", "training", "data", "audit", "shadow")
