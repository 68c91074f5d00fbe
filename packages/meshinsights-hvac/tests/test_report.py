"""report.html of hvac-power: built by ``meshinsights demo``, then opened in headless Chromium.

The run is the real CLI over the file connector on an 8-device demo fleet,
resumed with two more devices: one that fails (its dates are reversed) and one
with no data at all, so every kind of device section is on the page. Chromium
(Debian's ``chromium``) loads the file over ``file://``; a screenshot is kept as
``test-artifacts/report.png`` at the repository root.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from meshinsights.cli import EXIT_DEVICES_FAILED
from meshinsights.ledger import DeviceRecord, Ledger
from meshinsights_hvac.report import anchor, render_charts

REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO_ROOT / "test-artifacts"
FAILING_DEVICE = "2916276-reversed"
EMPTY_DEVICE = "9999999"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--hide-scrollbars",
]


def _cli(*args: str, cwd: Path, exit_code: int = 0) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "meshinsights", *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert completed.returncode == exit_code, (
        f"meshinsights {' '.join(args)}:\n{completed.stderr[-3000:]}")
    return completed


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo run of 8 devices, resumed with a failing device and one without data."""
    root = tmp_path_factory.mktemp("report-demo")
    _cli("demo", "--devices", "8", "--out", str(root), cwd=root)
    devices_csv = root / "data" / "devices.csv"
    header = devices_csv.read_text().splitlines()[0]
    assert header.startswith("device_id,location_id,control_id,start_date,end_date"), header
    with devices_csv.open("a", encoding="utf-8") as stream:
        stream.write(f"{FAILING_DEVICE},11688,2916276,2025-03-06,2025-02-05\n")
        stream.write(f"{EMPTY_DEVICE},11688,{EMPTY_DEVICE},2025-02-05,2025-03-06\n")
    resumed = _cli("run", str(root / "demo.toml"), "--resume", cwd=root,
                   exit_code=EXIT_DEVICES_FAILED)
    assert f"failed {FAILING_DEVICE}" in resumed.stdout
    return root / "results"


@pytest.fixture(scope="module")
def records(demo_results: Path) -> dict[str, DeviceRecord]:
    return {record.device_id: record for record in Ledger(demo_results).records()}


@pytest.fixture(scope="module")
def report(demo_results: Path) -> str:
    return (demo_results / "report.html").read_text(encoding="utf-8")


def _sections(report: str) -> dict[str, str]:
    """Device section HTML by section id, in page order."""
    found = re.findall(r'<details class="device" id="([^"]+)"[^>]*>(.*?)</details>', report, re.S)
    return dict(found)


def _issue_codes(record: DeviceRecord) -> list[str]:
    per_stage = record.document["artifacts"].get("issues/per_stage") or {}
    return [f"{stage}: {code}" for stage, codes in per_stage.items() for code in codes]


# -- the HTML as written -------------------------------------------------------------


def test_every_device_has_a_section_linked_from_the_table(
    report: str, records: dict[str, DeviceRecord]
) -> None:
    sections = _sections(report)
    assert set(sections) == {anchor(device_id) for device_id in records}
    assert {FAILING_DEVICE, EMPTY_DEVICE} <= set(records)
    summary = report[report.index('<table id="summary"'):]
    summary = summary[:summary.index("</table>")]
    for device_id in records:
        assert f'<a href="#{anchor(device_id)}">{html.escape(device_id)}</a>' in summary
    assert "<th>n_issues</th>" in summary and "<th>issues</th>" in summary


def test_devices_with_issues_come_first_and_show_their_codes(
    report: str, records: dict[str, DeviceRecord]
) -> None:
    faulty = {device_id for device_id, record in records.items() if _issue_codes(record)}
    assert len(faulty) >= 3, "the demo fleet carries faults on half of its devices"
    by_anchor = {anchor(device_id): record for device_id, record in records.items()}
    ranks = [0 if record.status == "ok" and _issue_codes(record) else
             1 if record.status != "ok" else 2 for record in (by_anchor[a] for a in _sections(report))]
    assert ranks == sorted(ranks) and set(ranks) == {0, 1, 2}
    sections = _sections(report)
    for device_id in faulty:
        section = sections[anchor(device_id)]
        for code in _issue_codes(records[device_id]):
            assert f'<span class="badge">{html.escape(code)}</span>' in section, (device_id, code)
    clean = [d for d, r in records.items() if r.status == "ok" and not _issue_codes(r)]
    assert clean and all("no issues" in sections[anchor(d)] for d in clean)


def test_failed_and_empty_devices_say_why(report: str, records: dict[str, DeviceRecord]) -> None:
    sections = _sections(report)
    failed = sections[anchor(FAILING_DEVICE)]
    assert records[FAILING_DEVICE].status == "failed"
    assert "end_date 2025-02-05 is before start_date 2025-03-06" in html.unescape(failed)
    assert "<svg" not in failed and "no results to plot" in failed
    empty = sections[anchor(EMPTY_DEVICE)]
    assert records[EMPTY_DEVICE].status == "insufficient_data"
    for warning in records[EMPTY_DEVICE].document["warnings"]:
        assert html.escape(warning) in empty
    assert "nothing to plot" in empty


def test_charted_devices_have_svg_charts_with_axes_and_bands(
    report: str, records: dict[str, DeviceRecord]
) -> None:
    sections = _sections(report)
    charted = [d for d, r in records.items() if r.status == "ok"]
    assert charted
    for device_id in charted:
        section = sections[anchor(device_id)]
        assert section.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1, device_id
        assert 'class="chart"' in section
        for axes in ("axes_1", "axes_2", "axes_3"):  # power, medians over time, distribution
            assert f'<g id="{axes}">' in section, (device_id, axes)
        assert "power (kW)" in section and "cycle median (kW)" in section
        assert section.count('<g id="xtick_') >= 3 and section.count('<g id="ytick_') >= 3
        assert "stroke-dasharray" in section  # the dashed baseline and dotted band edges
        for stage in records[device_id].document["artifacts"]["baseline/thresholds"]:
            assert f"</i>{stage}</span>" in section  # the chart key names every stage


def test_report_needs_no_network(report: str) -> None:
    assert not re.search(r'(src|href)="(https?:)?//', report)
    assert "<link" not in report and "@import" not in report


def test_worker_processes_draw_the_same_charts(
    demo_results: Path, records: dict[str, DeviceRecord]
) -> None:
    chosen = [records[d] for d in ("2916276", "2916277", "2916278", FAILING_DEVICE, EMPTY_DEVICE)]
    in_process = render_charts(demo_results, chosen, processes=1)
    in_workers = render_charts(demo_results, chosen, processes=2)  # one device in a worker
    assert in_process == in_workers
    assert set(in_process) == {"2916276", "2916277", "2916278", EMPTY_DEVICE}
    assert all("<svg" in in_process[d] for d in ("2916276", "2916277", "2916278"))


def test_the_solution_does_not_import_matplotlib() -> None:
    code = ("import sys, meshinsights_hvac.solution as s; s.hvac_solution(); "
            "print('matplotlib' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True)
    assert completed.stdout.strip() == "False"


# -- the page in a browser -----------------------------------------------------------

# Prepended to a copy of the report: console errors become recognisable log lines.
CONSOLE_HOOK = """<script>
(function(){
  var error = console.error.bind(console);
  console.error = function(){ error("REPORT-CONSOLE-ERROR " + Array.prototype.join.call(arguments, " ")); };
  window.addEventListener("error", function(e){ error("REPORT-CONSOLE-ERROR " + e.message); });
})();
</script>"""

# Appended to the copy: opens every section, measures the charts, clicks the table headers.
PROBE = """<script>
(function(){
  var out = {};
  document.querySelectorAll("details").forEach(function(d){ d.open = true; });
  var charts = document.querySelectorAll("svg.chart");
  out.charts = Array.prototype.map.call(charts, function(svg){
    var box = svg.getBoundingClientRect();
    return {width: box.width, height: box.height, axes: svg.querySelectorAll("g[id^=axes_]").length,
            ticks: svg.querySelectorAll("g[id^=xtick_] text, g[id^=ytick_] text").length,
            paths: svg.querySelectorAll("path").length};
  });
  var table = document.getElementById("summary");
  var header = {};
  table.querySelectorAll("th").forEach(function(th, i){ header[th.textContent] = i; });
  function column(name){
    return Array.prototype.map.call(table.tBodies[0].rows, function(r){
      return r.cells[header[name]].textContent; });
  }
  var issues = table.querySelectorAll("th")[header["n_issues"]];
  issues.click(); out.issuesAsc = column("n_issues");
  issues.click(); out.issuesDesc = column("n_issues"); out.devicesByIssues = column("device_id");
  table.querySelectorAll("th")[header["device_id"]].click(); out.devicesAsc = column("device_id");
  out.brokenLinks = Array.prototype.filter.call(document.querySelectorAll("a[href^='#']"),
    function(a){ return !document.getElementById(a.getAttribute("href").slice(1)); }).length;
  var pre = document.createElement("pre"); pre.id = "report-probe";
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  console.log("REPORT-PROBE-DONE");
})();
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("MESHINSIGHTS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message + " and MESHINSIGHTS_REQUIRE_CHROMIUM=1")
        pytest.skip(message)
    return path


def _run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


class BrowserRun(NamedTuple):
    probe: dict[str, Any]  # what the probe script found in the page
    console: list[str]  # console lines of both page loads
    dom: str  # the DOM of the unmodified report after its scripts ran


@pytest.fixture(scope="module")
def browser_run(chromium: str, demo_results: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> BrowserRun:
    """The probe's findings, the console messages and the plain DOM of the report."""
    work = tmp_path_factory.mktemp("chromium")
    report = (demo_results / "report.html").read_text(encoding="utf-8")
    probed = demo_results / "report-probed.html"
    probed.write_text(report.replace("<head>", "<head>" + CONSOLE_HOOK, 1)
                      .replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    completed = _run_chromium(chromium, work / "profile-probe", "--enable-logging=stderr",
                              "--v=0", "--dump-dom", probed.as_uri())
    console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
    found = re.search(r'<pre id="report-probe">(.*?)</pre>', completed.stdout, re.S)
    assert found, "the probe script did not run: " + "\n".join(console)
    plain = _run_chromium(chromium, work / "profile-plain", "--enable-logging=stderr", "--v=0",
                          "--dump-dom", (demo_results / "report.html").as_uri())
    console += [line for line in plain.stderr.splitlines() if ":CONSOLE" in line]
    return BrowserRun(json.loads(html.unescape(found.group(1))), console, plain.stdout)


def test_browser_renders_every_chart(
    browser_run: BrowserRun, records: dict[str, DeviceRecord]
) -> None:
    probe, dom = browser_run.probe, browser_run.dom
    charts = probe["charts"]
    assert len(charts) == sum(r.status == "ok" for r in records.values())
    for chart in charts:
        assert chart["width"] > 500 and chart["height"] > 200, chart
        assert chart["axes"] == 3 and chart["ticks"] >= 10 and chart["paths"] >= 20, chart
    assert dom.count('class="chart"') == len(charts)
    assert '<table id="summary" class="sortable">' in dom


def test_browser_sorts_the_table_by_issues_and_device(
    browser_run: BrowserRun, records: dict[str, DeviceRecord]
) -> None:
    probe = browser_run.probe
    counts = {d: len(_issue_codes(r)) for d, r in records.items()}
    ascending = [int(v) for v in probe["issuesAsc"]]
    descending = [int(v) for v in probe["issuesDesc"]]
    assert ascending == sorted(counts.values())
    assert descending == sorted(counts.values(), reverse=True)
    by_issues = probe["devicesByIssues"]
    assert [counts[d] for d in by_issues] == descending
    assert probe["devicesAsc"] == sorted(records)
    assert probe["brokenLinks"] == 0


def test_browser_console_has_no_errors(
    browser_run: BrowserRun
) -> None:
    console = browser_run.console
    assert any("REPORT-PROBE-DONE" in line for line in console), "console capture is not working"
    errors = [line for line in console if "REPORT-CONSOLE-ERROR" in line or "Uncaught" in line]
    assert errors == []


def test_browser_screenshot(chromium: str, demo_results: Path, tmp_path: Path) -> None:
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "report.png"
    target.unlink(missing_ok=True)
    _run_chromium(chromium, tmp_path / "profile", f"--screenshot={target}",
                  "--window-size=1280,2400", (demo_results / "report.html").as_uri())
    assert target.exists() and target.stat().st_size > 50_000
    with Image.open(target) as image:
        assert image.size == (1280, 2400)
        colors = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colors is not None and len(colors) > 200  # text, bars and chart lines, not a blank page
