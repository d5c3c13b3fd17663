"""report.html in headless Chromium, for a binary, a multiclass, a regression and a monitoring run on
shared data: served from a local server that counts requests (the page must make none of its own), no
console errors, every chart drawn, the holdout metrics of metrics.json in the page's text, one screenshot
per kind of report. And a crafted run folder cannot make the page run its script or fetch anything."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from agent.record.html_report import render_html
from tests.browser import load, screenshot
from tests.cli_helpers import DATASETS, ONE_CORE, mlpilot, run_json
from tools.fmt import number

pytestmark = pytest.mark.slow

RUNS = {
    "multiclass": (str(DATASETS / "segment.csv"), "--goal", "predict the class", "--budget", "12"),
    "regression": (str(DATASETS / "taxis.csv"), "--goal", "predict the tip", "--budget", "10"),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, finished_run: Path) -> dict[str, Path]:
    runs = tmp_path_factory.mktemp("html_runs")
    with ThreadPoolExecutor(2) as pool:
        done = {kind: pool.submit(run_json, *args, runs_dir=runs, env=ONE_CORE) for kind, args in RUNS.items()}
        out = {}
        for kind, future in done.items():
            proc, summary = future.result()
            assert proc.returncode == 0, proc.stderr
            out[kind] = Path(summary["run_dir"])
    binary = runs / finished_run.name
    shutil.copytree(finished_run, binary)
    out["binary"] = binary
    batch = pd.read_csv(DATASETS / "titanic.csv").sample(300, random_state=3)
    batch["age"] = batch["age"] + 25  # an older crowd: drift the report must show
    path = runs / "older.csv"
    batch.to_csv(path, index=False)
    proc = mlpilot("monitor", str(binary), str(path), "--json", runs_dir=runs)
    assert proc.returncode in (0, 3), proc.stderr
    out["monitoring"] = Path(json.loads(proc.stdout)["record"])
    return out


def _text(dom: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def _check_page(folder: Path, shots: Path, kind: str) -> tuple[str, str]:
    page = folder / "report.html"
    assert page.exists(), f"no report.html in {folder}"
    size = page.stat().st_size
    assert size < 600_000, f"{kind}: report.html is {size:,} bytes"
    loaded = load(page)
    assert loaded.requests == ["/report.html"], f"{kind}: the page asked for {loaded.requests}"
    assert loaded.console == [], f"{kind}: console: {loaded.console}"
    png = screenshot(page, shots / f"{kind}.png")
    assert png.stat().st_size > 40_000, f"{kind}: the screenshot is nearly blank ({png.stat().st_size} bytes)"
    return loaded.dom, _text(loaded.dom)


def _charts(dom: str) -> int:
    return len(re.findall(r"<svg\b", dom))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_a_run_report_in_the_browser(kind: str, reports: dict[str, Path], tmp_path: Path) -> None:
    run_dir = reports[kind]
    dom, text = _check_page(run_dir, tmp_path, kind)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name, value in metrics["metrics"].items():
        assert number(value) in text, f"{kind}: holdout {name} {number(value)} is not on the page"
    profile = json.loads((run_dir / "profile.json").read_text())
    sparks = len(re.findall(r'<figure class="spark"><svg\b', dom))
    assert sparks >= len(profile["columns"]) // 2, f"{kind}: {sparks} column charts for {len(profile['columns'])}"
    figures = {"binary": ("ROC curve", "Precision and recall", "Cumulative gains", "Calibration"),
               "multiclass": ("Calibration",), "regression": ("Predicted against actual", "Residuals")}[kind]
    for title in figures + ("Permutation importance", "Partial dependence", "Decisions", "Leaderboard"):
        assert title in text, f"{kind}: no {title!r} on the page"
    assert _charts(dom) >= sparks + len(figures) + 1, f"{kind}: {_charts(dom)} charts drawn"
    if kind != "regression":
        assert "Per class" in text and "Confusion matrix" in text
    decisions = [line for line in (run_dir / "events.jsonl").read_text().splitlines() if '"kind": "decision"' in line]
    assert f"{len(decisions)} decisions" in text


def test_a_monitoring_report_in_the_browser(reports: dict[str, Path], tmp_path: Path) -> None:
    record = reports["monitoring"]
    dom, text = _check_page(record, tmp_path, "monitoring")
    summary = json.loads((record / "summary.json").read_text())
    assert summary["verdict"] in text and "age" in text
    drifted = [d["column"] for d in summary["drifted_features"]]
    assert "age" in drifted
    assert _charts(dom) >= len(summary["check"]["columns"]), "a reference-against-batch chart per feature"


def test_mlpilot_report_renders_both_again(reports: dict[str, Path]) -> None:
    run_dir = reports["binary"]
    (run_dir / "report.html").unlink()
    proc = mlpilot("report", str(run_dir), runs_dir=run_dir.parent)
    assert proc.returncode == 0, proc.stderr
    assert f"in a browser: {run_dir / 'report.html'}" in proc.stdout
    first = {name: (run_dir / name).read_text() for name in ("report.md", "report.html")}
    proc = mlpilot("report", str(run_dir), "--path-only", runs_dir=run_dir.parent)
    assert proc.stdout.strip() == str(run_dir / "report.md")
    assert {name: (run_dir / name).read_text() for name in first} == first, "rendering again gives the same pages"
    assert render_html(run_dir).read_text() == first["report.html"]


def test_a_crafted_run_folder_cannot_script_the_page_or_fetch(reports: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "crafted"
    shutil.copytree(reports["binary"], run_dir)
    hostile = ('<script>document.title="owned"</script><img src="http://127.0.0.1:9/x.png">'
               '![tracker](http://127.0.0.1:9/t.png) [click](javascript:alert(1))')
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["goal"] = hostile
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    lines = [line.replace('"reason": "', '"reason": "' + hostile.replace('"', '\\"'), 1)
             if '"kind": "decision"' in line else line for line in lines]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    page = render_html(run_dir)
    loaded = load(page)
    assert loaded.requests == ["/report.html"], loaded.requests
    assert "<title>owned</title>" not in loaded.dom and "&lt;script&gt;" in loaded.dom
    assert 'href="javascript:' not in loaded.dom
