"""The REPL's answers about a run (`agent.chat.explain`), checked against real run folders made by the CLI.

Three short runs are shared by every test: bank marketing (duration is dropped as a leak), Titanic with a
recall goal, and Titanic again without the column ``sex`` for `compare_runs`. They run side by side to
keep the file near 30 s.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.chat.explain import TOPICS, compare_runs, explain, relevant_events
from tests.cli_helpers import DATASETS, ONE_CORE, decisions, events, run_json
from tools.metrics import METRICS

RECALL_GOAL = "predict who survived; missing a survivor is worse than a false alarm"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders: bank, titanic, titanic_no_sex (the same data and seed with one column dropped).

    25 s budgets, ended early by the trial cap: with less, the three processes starting side by side leave
    under 15 s at planning time and the rules try only the two cheapest models, leaving no loser to explain.
    """
    runs_dir = tmp_path_factory.mktemp("explain-runs")
    common = ("--budget", "25", "--max-trials", "4", "--quiet", "--llm", "off", "--runs-dir", str(runs_dir))
    jobs = {"bank": (str(DATASETS / "bank_marketing.csv"), "--target", "y", *common),
            "titanic": (str(DATASETS / "titanic.csv"), "--goal", RECALL_GOAL, *common),
            "titanic_no_sex": (str(DATASETS / "titanic.csv"), "--goal", RECALL_GOAL, "--drop", "sex", *common)}
    with ThreadPoolExecutor(len(jobs)) as pool:
        done = {name: pool.submit(run_json, *args, runs_dir=runs_dir, env=ONE_CORE) for name, args in jobs.items()}
        results = {name: future.result() for name, future in done.items()}
    for name, (proc, summary) in results.items():
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
    return {name: Path(summary["run_dir"]) for name, (_, summary) in results.items()}


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_dropped_column_quotes_the_logged_reason(runs: dict[str, Path]) -> None:
    drop = decisions(runs["bank"])["drop:duration"]
    answer = explain(runs["bank"], "column", "duration")
    assert answer.found and drop["choice"] == "drop"
    assert drop["reason"] in answer.text
    assert answer.events[0] == drop["seq"] and f"(event {drop['seq']}, by the rules)" in answer.text
    assert "Alternative considered: keep" in answer.text
    leak = next(e for e in events(runs["bank"]) if e["kind"] == "leakage_check")
    assert leak["seq"] in answer.events and "Evidence: alone it scores ROC AUC" in answer.text


def test_kept_feature_is_reported_as_used_with_its_importance(runs: dict[str, Path]) -> None:
    plan = decisions(runs["titanic"])["column_plan"]
    assert "age" in plan["choice"]["numeric"]
    answer = explain(runs["titanic"], "column", "Age")  # names match whatever the case
    assert answer.found and "age was used as a feature (numeric)" in answer.text
    assert plan["seq"] in answer.events
    importances = [e for e in events(runs["titanic"]) if e["kind"] == "importances"][-1]
    assert importances["seq"] in answer.events
    if not importances["rows"]:  # three runs side by side on a loaded machine can leave no time for them
        assert f"Permutation importance was not computed ({importances['note']})" in answer.text
        return
    rank = [r["feature"] for r in importances["rows"]].index("age") + 1
    assert f"rank {rank} of {len(importances['rows'])}" in answer.text


def test_skipped_importances_are_said_to_be_skipped(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from agent.record.events import EventLog

    run = shutil.copytree(runs["titanic"], tmp_path / runs["titanic"].name)
    note = "skipped: about 14 s needed, 3 s left"
    EventLog(run / "events.jsonl").emit("importances", step="evaluate", rows=[], note=note)
    answer = explain(run, "column", "age")
    assert answer.found and f"Permutation importance was not computed ({note})" in answer.text
    assert "rank" not in answer.text.split("Permutation importance")[1]


def test_a_lone_candidate_is_not_its_own_runner_up(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from agent.record.events import EventLog

    run = shutil.copytree(runs["titanic"], tmp_path / runs["titanic"].name)
    log = EventLog(run / "events.jsonl")
    row = {"candidate": "lightgbm", "label": "LightGBM", "rank": 1, "mean": 0.86, "sd": 0.02, "complete": True,
           "folds": 5}
    for stage in ("selection", "tuning"):
        log.emit("leaderboard", step="select", stage=stage, metric="roc_auc", rows=[row])
    log.decision("final_model", {"kind": "single", "candidate": "lightgbm"}, reason="the only one", step="finalize")
    text = explain(run, "model", "lightgbm").text
    assert "the only candidate scored, CV ROC AUC 0.8600 +- 0.0200" in text
    assert "runner-up" not in text and "rank 1 of 1" not in text


def test_an_ensemble_is_explained_by_its_strongest_members_scores(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from agent.record.events import EventLog

    run = shutil.copytree(runs["titanic"], tmp_path / runs["titanic"].name)
    board = next(e for e in events(run) if e["kind"] == "leaderboard" and e["stage"] == "selection")
    first, second = (r["candidate"] for r in sorted(board["rows"], key=lambda r: r["rank"])[:2])
    EventLog(run / "events.jsonl").decision(
        "final_model", {"kind": "ensemble", "weights": {f"{first}#3": 2, f"{second}#7": 1}},
        reason="a blend", step="finalize", evidence={"ensemble": {"best_single": f"{first}#3"}})
    text = explain(run, "model", None).text
    assert f"Its strongest member is {first}#3:" in text and "not on the selection leaderboard" not in text
    assert f"rank 1 of {len(board['rows'])}" in text


def test_target_column_and_unknown_column(runs: dict[str, Path]) -> None:
    target = explain(runs["titanic"], "column", "survived")
    assert target.found and "is the target" in target.text
    assert target.events == (decisions(runs["titanic"])["target"]["seq"],)
    unknown = explain(runs["titanic"], "column", "salary")
    assert not unknown.found and unknown.events == ()
    assert "no column 'salary'" in unknown.text and "pclass" in unknown.text


def test_model_answers_cite_the_final_model_decision(runs: dict[str, Path]) -> None:
    for run in ("bank", "titanic"):
        final = decisions(runs[run])["final_model"]
        for subject in (None, "lightgbm"):
            answer = explain(runs[run], "model", subject)
            assert answer.found and answer.events[0] == final["seq"]
            assert final["reason"] in answer.text


def test_a_model_that_lost_says_where_it_ranked(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from agent.record.events import EventLog

    # The run may blend every candidate (timing decides); a copy whose final choice is the leader alone
    # always has losers to ask about.
    run = shutil.copytree(runs["titanic"], tmp_path / runs["titanic"].name)
    board = next(e for e in events(run) if e["kind"] == "leaderboard" and e["stage"] == "selection")
    leader = min(board["rows"], key=lambda r: r["rank"])["candidate"]
    EventLog(run / "events.jsonl").decision("final_model", {"kind": "single", "candidate": leader},
                                            reason="the leader alone", step="finalize")
    loser = next(r for r in board["rows"] if r["candidate"] != leader)
    answer = explain(run, "model", loser["candidate"])
    assert f"{loser['candidate']} was not picked" in answer.text
    assert f"rank {loser['rank']} of {len(board['rows'])}" in answer.text and board["seq"] in answer.events
    missing = explain(run, "model", "svm")
    assert not missing.found and "was not a candidate" in missing.text


def test_baseline_answer_gives_the_holdout_figures(runs: dict[str, Path]) -> None:
    m = _metrics(runs["titanic"])
    answer = explain(runs["titanic"], "baseline")
    primary = m["primary"]
    assert answer.found and primary == "pr_auc"
    assert f"{m['metrics'][primary]:.4f} against {m['baseline'][primary]:.4f} for the baseline" in answer.text
    assert f"{m['spread']['p05']:.4f} to {m['spread']['p95']:.4f}" in answer.text
    assert "class shares" in answer.text
    holdout = [e for e in events(runs["titanic"]) if e["kind"] == "holdout_metrics"][-1]
    assert answer.events[0] == holdout["seq"], "the saved model's figures (the first model's come earlier)"


def test_threshold_answer_mentions_the_recall_rule(runs: dict[str, Path]) -> None:
    d = decisions(runs["titanic"])
    answer = explain(runs["titanic"], "threshold")
    assert "recall >= 0.80" in answer.text and d["threshold_rule"]["reason"] in answer.text
    assert d["threshold_rule"]["seq"] in answer.events and d["threshold"]["seq"] in answer.events
    assert "On the holdout at" in answer.text


@pytest.mark.parametrize("topic", TOPICS)
def test_every_answer_cites_real_events(runs: dict[str, Path], topic: str) -> None:
    log = {e["seq"]: e for e in events(runs["bank"])}
    subject = {"column": "balance", "model": "random_forest"}.get(topic)
    answer = explain(runs["bank"], topic, subject)
    assert answer.found and answer.events
    cited = {int(n) for group in re.findall(r"\bevents? (\d+(?:, \d+)*)", answer.text) for n in group.split(", ")}
    assert set(answer.events) <= cited and cited <= set(log)
    got = relevant_events(runs["bank"], topic, subject, limit=3)
    assert [e["seq"] for e in got] == list(answer.events[:3]) and all("kind" in e for e in got)


def test_compare_runs_names_both_runs_and_the_better_one(runs: dict[str, Path]) -> None:
    a, b = runs["titanic"], runs["titanic_no_sex"]
    answer = compare_runs(a, b)
    assert a.name in answer.text and b.name in answer.text
    assert "Dropped: only in A none; only in B sex" in answer.text
    score_a, score_b = _metrics(a)["metrics"]["pr_auc"], _metrics(b)["metrics"]["pr_auc"]
    better = a if METRICS["pr_auc"].better(score_a, score_b) else b
    assert f"({better.name}) is better on PR AUC" in answer.text
    assert f"by {abs(score_a - score_b):.4f}" in answer.text
    unlike = compare_runs(runs["bank"], a)
    assert "Not like for like" in unlike.text and "is better" not in unlike.text


def test_mlpilot_compare_shows_the_decisions_that_differ(runs: dict[str, Path], tmp_path: Path) -> None:
    """`mlpilot compare` on two real runs (Titanic with and without `sex`): the differing decisions printed at
    80 columns and in JSON, the page written, and bad arguments answered clearly."""
    from tests.browser import load
    from tests.cli_helpers import mlpilot

    a, b = runs["titanic"], runs["titanic_no_sex"]
    page = tmp_path / "both.html"
    proc = mlpilot("compare", str(a), str(b), "--output", str(page), runs_dir=a.parent, env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert "decisions that differ" in proc.stdout and "drop:sex" in proc.stdout
    assert f"side by side in a browser: {page}" in proc.stdout
    assert all(len(line) <= 80 for line in proc.stdout.splitlines() if str(page) not in line), proc.stdout
    data = json.loads(mlpilot("compare", a.name, b.name, "--output", str(page), "--json", runs_dir=a.parent).stdout)
    differ = {d["question"]: d for d in data["differences"]}
    assert differ["drop:sex"]["choices"] == ["(not decided)", "drop"]
    assert "sex" in differ["column_plan"]["choices"][1] and data["like_for_like"]
    better = a if METRICS["pr_auc"].better(_metrics(a)["metrics"]["pr_auc"], _metrics(b)["metrics"]["pr_auc"]) else b
    assert data["best"] == better.name
    loaded = load(page)
    assert loaded.requests == ["/both.html"] and loaded.console == []
    assert "drop:sex" in loaded.dom and better.name in loaded.dom
    one = mlpilot("compare", str(a), runs_dir=a.parent)
    assert one.returncode == 2 and "needs two different runs" in one.stderr
    bad = mlpilot("compare", str(a), str(b), "--output", str(tmp_path / "x.csv"), runs_dir=a.parent)
    assert bad.returncode == 2 and "must end in .html" in bad.stderr


def test_mlpilot_runs_fits_80_columns_with_whole_ids(runs: dict[str, Path]) -> None:
    from tests.cli_helpers import mlpilot

    root = runs["bank"].parent
    proc = mlpilot("runs", runs_dir=root, env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), proc.stdout
    for name, run_dir in runs.items():
        row = next(line for line in lines if line.startswith(run_dir.name + " "))
        metric = _metrics(run_dir)["primary"]
        assert f"{metric} {_metrics(run_dir)['metrics'][metric]:.3f}" in row and row.rstrip().endswith("ago")
        about = lines[lines.index(row) + 1]
        assert about.startswith("  completed: "), about
    assert RECALL_GOAL[:40] in proc.stdout


def test_the_chat_comparison_writes_the_page(runs: dict[str, Path], tmp_path: Path) -> None:
    from agent.chat.explain import side_by_side

    said = side_by_side([runs["titanic"], runs["titanic_no_sex"]], tmp_path)
    assert "Decisions that differ:" in said and "drop:sex" in said
    written = sorted((tmp_path / "comparisons").glob("*.html"))
    assert len(written) == 1 and str(written[0]) in said


def test_missing_log_and_bad_topic(tmp_path: Path, runs: dict[str, Path]) -> None:
    answer = explain(tmp_path, "general")
    assert not answer.found and answer.events == () and "events.jsonl is missing" in answer.text
    assert not compare_runs(tmp_path, runs["bank"]).found
    with pytest.raises(ValueError, match="topic must be one of"):
        explain(runs["bank"], "weather")


def test_the_leaderboard_shows_the_logged_scores_and_what_was_not_tuned(runs: dict[str, Path]) -> None:
    from rich.console import Console

    from agent.chat.board import leaderboard
    from agent.record.reader import RunRecord

    log = events(runs["titanic"])
    selection = next(e for e in log if e["kind"] == "leaderboard" and e["stage"] == "selection")
    shares = next(e for e in log if e["kind"] == "tuning_started")["shares"]
    table, lines = leaderboard(RunRecord(runs["titanic"]))
    text = "\n".join(lines)
    for row in selection["rows"]:
        line = next(x for x in lines if x.strip().startswith(row["candidate"] + ":"))
        assert f"default {row['mean']:.4f} +- {row['sd']:.4f}" in line
        assert ("after tuning" in line) == bool(shares.get(row["candidate"])), line
    final = decisions(runs["titanic"])["final_model"]
    assert f"(event {final['seq']})" in text and text.count("\n  ") == len(selection["rows"])
    console = Console(width=200, record=True)
    console.print(table)
    assert "models tried" in console.export_text()
    before = RunRecord(runs["titanic"], events=[e for e in log if e["kind"] != "leaderboard"])
    assert leaderboard(before) is None, "nothing before selection"


def test_budget_answer_gives_the_wall_the_time_plan_and_the_clock(runs: dict[str, Path]) -> None:
    log = events(runs["titanic"])
    plan = decisions(runs["titanic"])["time_plan"]
    end = log[-1] if log[-1]["kind"] == "run_finished" else next(e for e in reversed(log) if e["kind"] == "run_finished")
    answer = explain(runs["titanic"], "budget")
    assert "Hard time wall: 37.5 s" in answer.text and plan["reason"] in answer.text
    assert f"used {end['elapsed']} s of its clock and ended completed" in answer.text
    assert plan["seq"] in answer.events and end["seq"] in answer.events
