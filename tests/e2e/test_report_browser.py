"""report.html in a real browser (headless Chromium through selenium), as a release engineer opens it: the failed
gates on the first screen at desktop and phone sizes, every in-page link lands on an existing anchor, nothing
overflows sideways on a phone outside the scrolling tables, no console errors, injected markup stays text, and a
healthy run's report stays short. Screenshots are kept in `reports/screenshots/` (the README shows two).

Chromium and its driver come from Debian (`python3 dev.py test` installs them when missing and it can); where they
are absent, every test here is skipped saying so.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from harness.foundation.records import GateResult, MetricValue, Sample
from harness.gating.results import RunInfo, RunRecord
from harness.report.html import write_html
from tests.conftest import ROOT, plant_adapter

SCREENSHOTS = ROOT / "reports" / "screenshots"
DESKTOP, PHONE = (1400, 900), (390, 844)
NO_SIDEWAYS_PAGE = "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
PAYLOADS = ("<script>window.__pwned = 1</script>", "<img src=x onerror=\"window.__pwned = 1\">")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium session (skipped, with the reason, where Chromium or its driver is missing)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    if not (chromium and driver):
        pytest.skip("Chromium or chromedriver is not installed (Debian: apt-get install chromium chromium-driver; "
                    "python3 dev.py test does it when it runs as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    yield session
    session.quit()


def open_report(browser, path: Path, size: tuple[int, int]) -> None:
    """Load `path` in a window whose viewport is `size` (CSS pixels)."""
    browser.set_window_size(*size)
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    browser.set_window_size(2 * size[0] - inner[0], 2 * size[1] - inner[1])  # window chrome around the viewport
    browser.get(path.as_uri())


def failing_record() -> RunRecord:
    """A run of many passing gates and long sample tables, one gate failing in the last capability, and model text
    carrying script and onerror payloads everywhere text appears."""
    gates, metrics, samples = [], [], []
    for capability in ("adapter_health", "identity", "old_task", "generation", "perplexity"):
        for k in range(9):
            gates.append(GateResult(f"{capability}.metric_{k}", capability, f"metric_{k}", ">=", 0.5, 0.9, True,
                                    "PASS"))
            metrics.append(MetricValue(capability, f"metric_{k}", 0.9, 0.85, 0.95, 100))
        samples += [Sample(capability, f"{capability}-{i:03d}", f"question {i} {PAYLOADS[0]}", f"ref {PAYLOADS[1]}",
                           f"base {PAYLOADS[1]}", f"tuned {PAYLOADS[0]}",
                           {"type": PAYLOADS[0], "language": PAYLOADS[1], "passed": i % 30 != 0,
                            "reason": f"why {PAYLOADS[1]}", "base_correct": True, "tuned_correct": i % 30 != 0})
                    for i in range(60)]
    gates.append(GateResult("perplexity.heldout_ratio", "perplexity", "heldout_ratio", "<=", 1.25, 1.61, False,
                            f"FAIL perplexity.heldout_ratio = 1.61; {PAYLOADS[0]} {PAYLOADS[1]}", ci_low=1.4,
                            ci_high=1.8, n=40))
    run = RunInfo(f"run-{PAYLOADS[1]}", "t0", base_model={"name": PAYLOADS[0], "sha256": "f" * 64},
                  command=["pytest", PAYLOADS[0]], versions={"torch": PAYLOADS[1]},
                  sections={"compared": {"perplexity": {"base": PAYLOADS[0], "tuned": PAYLOADS[1]}}})
    return RunRecord(run, metrics=metrics, gates=gates, samples=samples)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_failed_gate_is_on_the_first_screen_and_its_link_lands(browser, tmp_path, size):
    path = write_html(tmp_path, failing_record())
    open_report(browser, path, size)
    top, height = browser.execute_script(
        "const r = document.querySelector('.verdict').getBoundingClientRect(); return [r.top, window.innerHeight]")
    assert 0 <= top < height * 0.6, (top, height)
    assert "perplexity.heldout_ratio" in browser.find_element("css selector", ".verdict").text
    missing = browser.execute_script(
        "return [...document.querySelectorAll('a[href^=\"#\"]')].map(a => a.getAttribute('href').slice(1))"
        ".filter(id => !document.getElementById(id))")
    assert missing == []
    browser.find_element("css selector", ".verdict a").click()
    row_top = browser.execute_script(
        "return document.getElementById('gate-perplexity.heldout_ratio').getBoundingClientRect().top")
    assert -1 <= row_top < height, row_top  # the link opened the folded section and scrolled to the row
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(path.as_uri())
    browser.save_screenshot(str(SCREENSHOTS / f"failing-{size[0]}.png"))


def test_a_phone_sees_no_sideways_overflow_outside_the_scrolling_tables(browser, tmp_path):
    open_report(browser, write_html(tmp_path, failing_record()), PHONE)
    overflowing = browser.execute_script(
        "const w = document.documentElement.clientWidth;"
        "return [...document.body.querySelectorAll('*')].filter(e => !e.closest('.scroll') && !e.closest('svg')"
        " && e.getBoundingClientRect().right > w + 1).map(e => e.tagName + '.' + e.className).slice(0, 5)")
    assert overflowing == []
    assert browser.execute_script(NO_SIDEWAYS_PAGE)


def test_injected_markup_stays_text_and_the_console_is_clean(browser, tmp_path):
    open_report(browser, write_html(tmp_path, failing_record()), DESKTOP)
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script(  # the report's own filter script is the only one
        "return document.querySelectorAll('script:not(#tunegate-filters), img').length") == 0
    assert PAYLOADS[1] in browser.find_element("css selector", ".verdict").text  # shown, as text
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_a_healthy_run_folds_to_a_short_page(browser, run_suites):
    """The built-in model's whole gate, passing: every section folded to its verdict, under 5,000 px tall."""
    result, report_dir = run_suites()
    assert result.ret == 0, result.stdout.str()[-2000:]
    open_report(browser, report_dir / "latest" / "report.html", DESKTOP)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    assert height < 5000, height
    assert browser.execute_script("return document.querySelectorAll('details.section[open]').length") == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "healthy-1400.png"))


def test_a_planted_regression_shows_what_failed_why_and_the_lost_items(browser, run_suites, forgetting_adapter):
    """The no-replay adapter (the identity recipe without replay at 5x the learning rate) graded as a release
    candidate: the failed gates and their reasons are on the first screen at desktop and phone sizes, and the items
    it lost are one click away."""
    result, report_dir = run_suites("--adapter", str(forgetting_adapter), "-m", "not latency")
    assert result.ret == 1, result.stdout.str()[-2000:]
    path = report_dir / "latest" / "report.html"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, name in ((DESKTOP, "planted-no-replay-1400.png"), (PHONE, "planted-no-replay-390.png")):
        open_report(browser, path, size)
        box = browser.find_element("css selector", ".verdict")
        top = browser.execute_script("return arguments[0].getBoundingClientRect().top", box)
        assert 0 <= top < size[1] * 0.6, top
        # the worst failed gate and its cause (on the built-in base this adapter's perplexity rises 2,000-fold)
        assert "failed gates, worst first" in box.text and re.search(r"[\d,.]+ (short|over); ", box.text), box.text
        assert browser.execute_script(NO_SIDEWAYS_PAGE)
        browser.save_screenshot(str(SCREENSHOTS / name))
    open_report(browser, path, DESKTOP)
    browser.find_element("css selector", ".verdict a[href='#evidence-old_task.exact_match_drop']").click()
    shown = browser.execute_script(  # one click: the lost items, on screen
        "const block = document.getElementById('evidence-old_task.exact_match_drop');"
        "const r = block.getBoundingClientRect();"
        "const rows = [...block.querySelectorAll('tbody tr')].filter(tr => tr.offsetHeight);"
        "return [r.top, window.innerHeight, rows.length, rows.length ? rows[0].cells[0].textContent : '']")
    assert -1 <= shown[0] < shown[1] and shown[2] >= 10, shown
    browser.save_screenshot(str(SCREENSHOTS / "planted-no-replay-evidence-1400.png"))


VISIBLE_OVERFLOW = (  # elements wider than the viewport that are not inside a box that scrolls on its own
    "const w = document.documentElement.clientWidth;"
    "return [...document.body.querySelectorAll('*')].filter(e => !e.closest('.scroll, figure.chart') && e.offsetParent"
    " && e.getBoundingClientRect().right > w + 1).map(e => e.tagName + '.' + e.className).slice(0, 5)")
CHART_TEXT_PX = (  # the rendered size of every chart text: font size times the SVG's scale on the page
    "document.querySelectorAll('details').forEach(d => d.open = true);"
    "return [...document.querySelectorAll('svg text')].filter(t => t.getClientRects().length).map(t => {"
    " const svg = t.ownerSVGElement, box = svg.viewBox.baseVal;"
    " const scale = box && box.width ? svg.getBoundingClientRect().width / box.width : 1;"
    " return parseFloat(getComputedStyle(t).fontSize) * scale; })")
EVIDENCE_COUNTS = (  # per evidence block: its gate, the rows it counts, and the counts its summary adds up
    "return [...document.querySelectorAll('details.evidence')].map(d => [d.id, +d.dataset.counted,"
    " [...d.querySelector('summary').textContent.split('of n =')[0].matchAll(/(\\d+) [a-z]/g)]"
    ".reduce((sum, m) => sum + +m[1], 0)])")


@pytest.fixture(scope="module")
def noise_adapter(adapter_under_test, tmp_path_factory):
    """A planted regression no other test uses: every lora_B of the trained identity adapter replaced by seeded
    Gaussian noise at 6x its root mean square (a corrupted or mis-saved checkpoint)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    return plant_adapter(adapter_under_test, tmp_path_factory.mktemp("noise") / "noise",
                         lambda b: torch.randn(b.shape, generator=generator) * b.pow(2).mean().sqrt() * 6)


def test_a_planted_noise_adapter_reads_worst_first_with_evidence_that_adds_up(browser, run_suites, noise_adapter):
    """The report of a badly failing run as a debugging tool: within its height and size budget, the worst failed
    gate first, each failed gate's evidence counting exactly its n items, a reproduce command that is valid shell,
    and on a phone nothing wider than the screen and no chart text under 10 px."""
    argv_tail = ("--adapter", str(noise_adapter), "-m", "not latency")
    result, report_dir = run_suites(*argv_tail)
    assert result.ret == 1, result.stdout.str()[-2000:]
    path = report_dir / "latest" / "report.html"
    data = json.loads((report_dir / "latest" / "results.json").read_text())
    failed = {g["id"]: g for g in data["gates"] if not g["passed"]}
    assert {"identity", "old_task", "perplexity", "generation"} <= {g["capability"] for g in failed.values()}
    assert path.stat().st_size <= 1_500_000, path.stat().st_size  # 684 base-task items, every one listed
    open_report(browser, path, DESKTOP)
    assert browser.execute_script("return document.documentElement.scrollHeight") <= 15_000
    browser.save_screenshot(str(SCREENSHOTS / "planted-noise-1400.png"))
    listed = browser.execute_script(
        "return [...document.querySelectorAll('.verdict td.gate')].map(td => td.textContent)")
    assert sorted(listed) == sorted(failed)  # every failed gate, no other
    assert listed[0] == max(failed.values(), key=lambda g: g["severity"])["id"]  # the worst first
    assert [failed[g]["severity"] for g in listed] == sorted((g["severity"] for g in failed.values()), reverse=True)
    counts = {block: (counted, summed) for block, counted, summed in browser.execute_script(EVIDENCE_COUNTS)}
    for gate in failed.values():
        counted, summed = counts[f"evidence-{gate['id']}"]
        assert counted == summed == gate["n"], (gate["id"], counted, summed, gate["n"])
    code = browser.find_element("xpath", "//p[starts-with(., 'reproduce:')]/code").text
    argv = shlex.split(code)
    assert argv == data["run"]["command"] and argv[argv.index("-m"):][:2] == ["-m", "not latency"]
    browser.find_element("css selector", f".verdict a[href='#evidence-{listed[0]}']").click()
    top = browser.execute_script(f"return document.getElementById('evidence-{listed[0]}').getBoundingClientRect().top")
    assert 0 <= top < DESKTOP[1], top  # the link unfolds the evidence and lands on it
    browser.save_screenshot(str(SCREENSHOTS / "planted-noise-evidence-1400.png"))
    open_report(browser, path, PHONE)
    browser.save_screenshot(str(SCREENSHOTS / "planted-noise-390.png"))
    assert browser.execute_script(VISIBLE_OVERFLOW) == [] and browser.execute_script(NO_SIDEWAYS_PAGE)
    sizes = browser.execute_script(CHART_TEXT_PX)
    assert sizes and min(sizes) >= 10, min(sizes)
    assert browser.execute_script(VISIBLE_OVERFLOW) == [] and browser.execute_script(NO_SIDEWAYS_PAGE)  # all open


def test_filters_search_and_sort_change_the_visible_rows(browser, tmp_path):
    def item(id_, kind, base_correct, tuned_correct):
        return Sample("old_task", id_, f"question {id_}", "32", "b", "t",
                      {"type": kind, "passed": not (base_correct and not tuned_correct),
                       "base_correct": base_correct, "tuned_correct": tuned_correct})

    samples = [item("lost-1", "arith", True, False), item("kept-2", "arith", True, True),
               item("gained-3", "geo", False, True), item("wrong-4", "geo", False, False)]
    open_report(browser, write_html(tmp_path, RunRecord(RunInfo("r", "t0"), samples=samples)), DESKTOP)
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")  # unfold
    visible = "return [...document.querySelectorAll('table.samples tbody tr')].filter(r => !r.hidden)" \
              ".map(r => r.cells[0].textContent)"
    assert browser.execute_script(visible) == ["lost-1", "wrong-4", "gained-3", "kept-2"]
    bar = browser.find_element("css selector", ".filters")
    bar.find_element("css selector", "input[type=search]").send_keys("GAINED")
    assert browser.execute_script(visible) == ["gained-3"] and "1 of 1 matching rows (4 in all)" in bar.text
    bar.find_element("css selector", "input[type=search]").clear()
    browser.execute_script("const s = document.querySelector('.filters select[aria-label=type]'); s.value = 'geo';"
                           "s.dispatchEvent(new Event('input'))")
    assert browser.execute_script(visible) == ["wrong-4", "gained-3"]
    browser.execute_script("const s = document.querySelector('.filters select[aria-label=type]'); s.value = '';"
                           "s.dispatchEvent(new Event('input'))")
    bar.find_element("css selector", "input[type=checkbox]").click()
    assert browser.execute_script(visible) == ["lost-1"]
    bar.find_element("css selector", "input[type=checkbox]").click()
    browser.find_element("css selector", "table.samples th").click()  # sort by item
    assert browser.execute_script(visible) == ["gained-3", "kept-2", "lost-1", "wrong-4"]


def test_an_evidence_link_opens_the_item_table_filtered_to_its_gate_and_long_tables_show_all_on_demand(
        browser, tmp_path):
    samples = [Sample("old_task", f"q{i:02d}", f"question {i}", "32", "32", "32" if i % 3 else "31",
                      {"type": "arith", "base_correct": True, "tuned_correct": bool(i % 3),
                       "gates": {"exact_match": bool(i % 3), "exact_match_drop": [True, bool(i % 3)]}})
               for i in range(40)]
    gates = [GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.85, 26 / 40, False, "FAIL", n=40),
             GateResult("old_task.exact_match_drop", "old_task", "exact_match_drop", "<=", 0.5, 14 / 40, True,
                        "PASS", n=40)]
    open_report(browser, write_html(tmp_path, RunRecord(RunInfo("r", "t0"), gates=gates, samples=samples)), DESKTOP)
    visible = ("return [...document.getElementById('items-old_task').tBodies[0].rows].filter(r => !r.hidden)"
               ".map(r => r.cells[0].textContent)")
    browser.find_element("css selector", ".verdict a[href='#evidence-old_task.exact_match']").click()
    block = browser.find_element("id", "evidence-old_task.exact_match")
    assert "14 fail · 26 pass · of n = 40" in block.text
    block.find_element("css selector", "a[data-only='fail']").click()  # "all of them in the item table"
    shown = browser.execute_script(visible)
    assert len(shown) == 14 and all(int(item[1:]) % 3 == 0 for item in shown)  # the gate's failing items only
    bar = browser.find_element("css selector", ".filters")
    assert bar.find_element("css selector", "select[aria-label=gate]").get_attribute("value") == "exact_match"
    bar.find_element("css selector", "input[type=checkbox]").click()  # every item the gate counts: capped
    assert len(browser.execute_script(visible)) == 25
    browser.find_element("css selector", "button.show-all").click()
    assert len(browser.execute_script(visible)) == 40
