"""The capabilities whose suites a healthy `pytest suites/` judges: shared by tests/fast/test_suite_markers.py and
tests/e2e/test_suites_e2e.py."""

CAPABILITIES = ("identity", "old_task", "new_task", "perplexity", "adapter_health", "generation", "latency",
                "forgetting", "training", "data")
