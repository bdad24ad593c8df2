"""Register the tunegate pytest plugin for `pytest suites/` and the harness's own tests."""

pytest_plugins = ["harness.plugin"]
