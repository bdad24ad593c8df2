"""Register the tunegate pytest plugin (and pytester, for the harness's own end-to-end tests).

Installed, tunegate's `pytest11` entry point (named `harness.plugin`, like the module) has registered it already
and this line finds it there; from a bare checkout it registers it.
"""

pytest_plugins = ["harness.plugin", "pytester"]
