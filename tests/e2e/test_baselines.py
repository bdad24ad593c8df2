"""CI regression against stored baselines on the built-in suites: save from a good adapter, then a planted regression
fails with metric, baseline value, new value, delta and bound; drift is measured; a shadow adapter's disagreement is
reported. The fast checks (bounds, refused baselines, an identical shadow) are in tests/fast/test_baselines_fast.py."""

from __future__ import annotations

import json

import pytest


def test_saved_baseline_then_planted_regression_fails(run_suites, forgetting_adapter, tmp_path):
    """On the built-in suites (the plugin's baseline rules are tested fast in test_plugin.py): a baseline saved
    from a partial run on the healthy adapter, then the forgetting adapter compared with it."""
    folder, selection = tmp_path / "baselines", ("-m", "old_task or identity")
    result, _ = run_suites(*selection, "--save-baseline", "release", "--save-baseline-anyway", "--baseline-dir",
                           str(folder))
    assert result.ret == 0 and (folder / "release.json").is_file()
    result.stdout.fnmatch_lines(["saved baseline 'release' at *release.json"])
    saved = (folder / "release.json").read_bytes()
    stored = json.loads(saved)
    assert stored["name"] == "release" and any(k.startswith("old_task/") for k in stored["samples"])

    result, report_dir = run_suites("-m", "old_task or perplexity", "--adapter", str(forgetting_adapter),
                                    "--baseline", "release", "--baseline-dir", str(folder))
    assert result.ret == 1
    gates = {g["id"]: g for g in json.loads((report_dir / "latest" / "results.json").read_text())["gates"]}
    verdict = gates["baseline.old_task.exact_match"]
    dev_items = len([k for k in stored["samples"] if k.startswith("old_task/")])
    before = next(m["value"] for m in stored["metrics"] if (m["capability"], m["name"], m["checkpoint"]) ==
                  ("old_task", "exact_match", "tuned"))
    assert verdict["message"].startswith(f"FAIL baseline.old_task.exact_match: baseline {before:.4g} -> now "
                                         f"{verdict['value']:.4g}")
    assert verdict["value"] < verdict["threshold"] == pytest.approx(before * 0.98)  # bound -2% of the baseline
    assert "bound -2%" in verdict["message"] and f"paired on {dev_items} items: change -" in verdict["message"]
    assert not gates["drift.changed_answer_rate[old_task]"]["passed"]
    missing = gates["baseline.perplexity.heldout_ratio"]  # the stored baseline lacks it: fails, never dropped
    assert not missing["passed"] and "the stored baseline 'release' has no perplexity.heldout_ratio" in \
        missing["message"]
    html = (report_dir / "latest" / "report.html").read_text()
    assert "<h2 id='drift'>" in html and "baseline.old_task.exact_match" in html
    assert (folder / "release.json").read_bytes() == saved  # nothing overwrites a baseline without --save


def test_shadow_reports_disagreement(run_suites, adapter_under_test, tmp_path):
    from tests.conftest import plant_adapter

    dead = plant_adapter(adapter_under_test, tmp_path / "dead", lambda b: b * 0)
    result, report_dir = run_suites("-m", "shadow", "--shadow", str(dead))  # no gate of its own: reported, passes
    assert result.ret == 0, result.stdout.str()[-2000:]
    data = json.loads((report_dir / "latest" / "results.json").read_text())
    rates = {m["name"]: m["value"] for m in data["metrics"] if m["capability"] == "shadow"}
    assert set(rates) >= {"disagreement[identity]", "disagreement[base]", "disagreement[increment_1]"}
    shown = [s for s in data["samples"] if s["capability"] == "shadow"]
    assert rates["disagreement[identity]"] >= 0.4 and shown  # every identity probe; locality agrees
    assert data["run"]["shadow"]["path"] == str(dead)
