"""Register the tunegate pytest plugin (and pytester, for the harness's own end-to-end tests)."""

pytest_plugins = ["harness.plugin", "pytester"]
