"""Documents earlier runs wrote: baselines, results, the audit history."""

from __future__ import annotations

import json

from tests.bad_inputs.project import BadInput, baseline

TITLE = "baselines, earlier results, history"


CASES = [
    BadInput("baseline-without-samples", "a stored baseline without samples",
             baseline(lambda p: {"schema_version": 1, "name": "release", "run": {}, "metrics": []}),
             ("release.json", "key 'samples' missing")),
    BadInput("baseline-newer-schema", "a baseline written by a newer tunegate",
             baseline(lambda p: {"schema_version": 3, "name": "release"}),
             ("release.json", "'schema_version' is 3", "newer tunegate")),
    BadInput("results-as-baseline", "a results.json passed as a baseline",
             baseline(lambda p: json.loads((p.reports / "earlier/results.json").read_text())),
             ("release.json", "results.json, not a baseline")),
    BadInput("baseline-missing", "--baseline naming no stored baseline", lambda p: ["--baseline", "nope"],
             ("nope.json", "--save-baseline nope")),
    BadInput("baseline-bad-name", "a baseline name with a slash", lambda p: ["--baseline", "a/b"], ("'a/b'",)),
    BadInput("history-unparseable", "an audit history CSV pandas cannot parse",
             lambda p: ((p.reports / "history.csv").write_text('run_id,time\n"r1,2026\n'), [])[1],
             ("history.csv", "unreadable audit history")),
]
