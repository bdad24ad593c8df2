"""Register the tunegate pytest plugin (and pytester, for the harness's own end-to-end tests).

Installed (`pip install -e .`, as the README's setup does), tunegate's `pytest11` entry point has loaded
`harness.plugin` before pytest reads any conftest; from a bare checkout this file registers it instead.
"""

import sys

pytest_plugins = ["pytester"] if "harness.plugin" in sys.modules else ["harness.plugin", "pytester"]
