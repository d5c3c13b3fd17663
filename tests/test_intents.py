"""The offline intent parser of the chat: every phrasing the REPL promises, and the pairs whose order matters."""

from __future__ import annotations

import dataclasses

import pytest

from agent.chat.commands import Commands
from agent.chat.intents import ACTIONS, Intent, help_text, parse

COLUMNS = ["customer_id", "customer_age", "duration", "Churn", "y", "a", "b", "Age", "Monthly Charges", "price"]


def fields(args: object) -> dict:
    """An intent's typed arguments as a dict, tuples as lists, to compare with the expected ones."""
    if args is None:
        return {}
    return {f.name: list(v) if isinstance(v := getattr(args, f.name), tuple) else v for f in dataclasses.fields(args)}


def check(text: str, action: str, args: dict | None, *, columns: list[str] = COLUMNS, pending: bool = False) -> None:
    intent = parse(text, columns=columns, pending_plan=pending)
    assert isinstance(intent, Intent) and intent.text == text
    assert intent.action in ACTIONS
    assert intent.action == action, f"{text!r} -> {intent.action} {intent.args}"
    if args is not None:
        got = fields(intent.args)
        assert {k: got.get(k) for k in args} == args, f"{text!r} -> {intent.args}"


@pytest.mark.parametrize("text,path", [
    ("load data/sales.csv", "data/sales.csv"),
    ("open ../shared/datasets/titanic.csv", "../shared/datasets/titanic.csv"),
    ("use the file march.parquet", "march.parquet"),
    ("read 'my data.csv'", "my data.csv"),
    ('load "C:/data/Q1 sales.tsv"', "C:/data/Q1 sales.tsv"),
    ("here is the data: sales.csv.gz", "sales.csv.gz"),
    ("please load sales.pq", "sales.pq"),
    ("load data/sales", "data/sales"),
    # The words of a path are not read as the user's: CI once kept its checkout under /check.
    ("load /check/work/shared/datasets/titanic.csv", "/check/work/shared/datasets/titanic.csv"),
    ("load /srv/drift/monitor/predict/changed.csv", "/srv/drift/monitor/predict/changed.csv"),
    ("open /data/drift/sales", "/data/drift/sales"),
    (r"load /tmp/my\ data/titanic.csv", "/tmp/my data/titanic.csv"),  # as a terminal pastes a dropped file
    ("load /tmp/my data/titanic.csv", "/tmp/my data/titanic.csv"),
    ("load a.csv and b.csv", "a.csv"),
    ("load", ""),
])
def test_load(text: str, path: str) -> None:
    check(text, "load", {"path": path})


@pytest.mark.parametrize("text", ["what's in it?", "describe the data", "show me the columns", "profile",
                                  "summarize the dataset", "what columns are there?", "tell me about the data",
                                  "What\u2019s in it?"])
def test_profile(text: str) -> None:
    check(text, "profile", {})


@pytest.mark.parametrize("text", [
    "predict churn, recall matters most, 3 minutes",
    "I want to forecast price; error in dollars",
    "predict who survived",
    "predict column y",
    "estimate the house price from its area",
    "classify the emails as spam or not",
    "detect fraud, false alarms are costly",
    "can you model house prices?",
    "which customers will churn?",
    "predict churn and show me the report",
    "will the client subscribe? precision matters; 15 seconds",
    "does a customer churn within a year",
    "is the passenger going to survive",
])
def test_goal(text: str) -> None:
    check(text, "goal", {"goal": text})


@pytest.mark.parametrize("text,goal,path", [
    ("predict churn in telco.csv", "predict churn", "telco.csv"),
    ("load telco.csv and predict churn", "predict churn", "telco.csv"),
    ("forecast sales using data/sales.csv, 5 minutes", "forecast sales, 5 minutes", "data/sales.csv"),
])
def test_goal_with_its_data(text: str, goal: str, path: str) -> None:
    check(text, "goal", {"goal": goal, "path": path})


@pytest.mark.parametrize("text,column,unknown", [
    ("the target is Churn", "Churn", []),
    ("target churn", "Churn", []),
    ("set the target to y", "y", []),
    ("target: y", "y", []),
    ("change the target to monthly charges", "Monthly Charges", []),
    ("use price as the target", "price", []),
    ("Churn is the target", "Churn", []),
    ("the target is revenue", "revenue", ["revenue"]),
])
def test_target(text: str, column: str, unknown: list[str]) -> None:
    check(text, "target", {"column": column, "unknown": unknown})


def test_target_without_columns_keeps_the_word() -> None:
    check("target: Survived", "target", {"column": "Survived", "unknown": []}, columns=[])


@pytest.mark.parametrize("text,metric", [
    ("use F1 instead", "f1"),
    ("optimise precision", "precision"),
    ("optimize for recall", "recall"),
    ("metric roc auc", "roc_auc"),
    ("switch to log loss", "log_loss"),
    ("switch from accuracy to balanced accuracy", "balanced_accuracy"),
    ("use pr_auc rather than roc auc", "pr_auc"),
    ("average precision please", "pr_auc"),
    ("minimise the mean absolute error", "mae"),
    ("rmse", "rmse"),
    ("score models by r2", "r2"),
    ("brier", "brier"),
    ("recall matters most", "recall"),
    ("optimise for percentage error", "mape"),
    ("go with accuracy", "accuracy"),
])
def test_metric(text: str, metric: str) -> None:
    check(text, "metric", {"metric": metric})


@pytest.mark.parametrize("text,seconds", [
    ("budget 10 minutes", 600.0),
    ("3 minutes", 180.0),
    ("give it 90 seconds", 90.0),
    ("take half an hour", 1800.0),
    ("budget 120", 120.0),
    ("an hour", 3600.0),
])
def test_budget(text: str, seconds: float) -> None:
    check(text, "budget", {"seconds": seconds})


@pytest.mark.parametrize("text,columns,unknown", [
    ("drop customer_id", ["customer_id"], []),
    ("remove the id column", ["customer_id"], []),
    ("don't use duration", ["duration"], []),
    ("ignore column X", [], ["X"]),
    ("exclude a and b", ["a", "b"], []),
    ("drop Age, duration and the customer id", ["Age", "duration", "customer_id"], []),
    ("remove monthly charges too", ["Monthly Charges"], []),
    ("do not include zipcode", [], ["zipcode"]),
    ("stop using DURATION", ["duration"], []),
    ("duration should be dropped", ["duration"], []),
    ("drop 'Monthly Charges'", ["Monthly Charges"], []),
])
def test_drop(text: str, columns: list[str], unknown: list[str]) -> None:
    check(text, "drop", {"columns": columns, "unknown": unknown})


@pytest.mark.parametrize("text,columns", [
    ("keep customer_age", ["customer_age"]),
    ("use duration after all", ["duration"]),
    ("don't drop age", ["Age"]),
    ("put duration back", ["duration"]),
    ("please keep a and b", ["a", "b"]),
    ("use duration", ["duration"]),
])
def test_keep(text: str, columns: list[str]) -> None:
    check(text, "keep", {"columns": columns, "unknown": []})


def test_drop_and_keep_without_columns_pass_the_words_on() -> None:
    check("drop customer id and age", "drop", {"columns": ["customer id", "age"], "unknown": []}, columns=[])
    check("keep Duration", "keep", {"columns": ["Duration"], "unknown": []}, columns=[])


def test_an_ambiguous_word_is_not_guessed() -> None:
    # "customer" is a word of two columns: naming neither, it is reported as unknown.
    check("drop customer", "drop", {"columns": [], "unknown": ["customer"]})


@pytest.mark.parametrize("text,action", [
    ("show the plan", "plan"), ("what's the plan?", "plan"), ("plan", "plan"),
    ("go", "run"), ("run it", "run"), ("start training", "run"), ("let's go", "run"), ("train", "run"),
    ("keep going", "run"), ("Go!", "run"), ("run the plan", "run"),
    ("stop", "stop"), ("halt", "stop"), ("abort the run", "stop"), ("cancel", "stop"),
    ("list runs", "runs"), ("show my runs", "runs"), ("what runs do I have", "runs"),
    ("show the report", "report"), ("open the report", "report"), ("report", "report"),
    ("compare with the last run", "compare"), ("how does this compare to the previous run?", "compare"),
    ("this run vs the previous one", "compare"),
    ("approve", "approve"), ("approve the plan", "approve"),
    ("help", "help"), ("what can you do?", "help"), ("?", "help"), ("HELP", "help"),
    ("quit", "quit"), ("exit", "quit"), ("bye", "quit"),
    ("show the leaderboard", "leaderboard"), ("which models did you try?", "leaderboard"),
    ("how did the models do?", "leaderboard"), ("compare the models", "leaderboard"), ("/leaderboard", "leaderboard"),
    # with no plan waiting the commands answer that there is nothing to approve or cancel
    ("yes", "approve"), ("ok", "approve"), ("no", "cancel"),
])
def test_simple_actions(text: str, action: str) -> None:
    check(text, action, {})


@pytest.mark.parametrize("text,full", [("show the report", False), ("show me the whole report", True),
                                       ("full report please", True), ("open the report", False)])
def test_report_summary_or_full(text: str, full: bool) -> None:
    check(text, "report", {"full": full})


@pytest.mark.parametrize("text", ["banana", "asdf qwerty", "what is the meaning of life", "", "   ", "forget it"])
def test_unknown(text: str) -> None:
    check(text, "unknown", {})


@pytest.mark.parametrize("text,action", [
    ("yes", "approve"), ("ok", "approve"), ("looks good", "approve"), ("go ahead", "approve"),
    ("approve", "approve"), ("ok, go ahead!", "approve"), ("yes please", "approve"), ("go", "approve"),
    ("run it", "approve"), ("start training", "approve"),
    ("no", "cancel"), ("cancel", "cancel"), ("stop", "cancel"), ("abort", "cancel"), ("abort the run", "cancel"),
    ("no, not yet", "cancel"),
    ("drop duration", "drop"), ("use F1 instead", "metric"), ("budget 5 minutes", "budget"),
])
def test_pending_plan(text: str, action: str) -> None:
    check(text, action, None, pending=True)


@pytest.mark.parametrize("text,topic,subject", [
    ("why did you pick LightGBM?", "model", "lightgbm"),
    ("why was duration dropped?", "column", "duration"),
    ("why this threshold?", "threshold", None),
    ("why roc auc?", "metric", "roc_auc"),
    ("how good is it compared to guessing?", "baseline", None),
    ("how good is the model?", "baseline", None),
    ("explain the plan", "general", None),
    ("what did you decide about age?", "column", "Age"),
    ("why not a random forest?", "model", "random_forest"),
    ("why HistGradientBoosting?", "model", "hist_gb"),
    ("why did you choose logistic regression", "model", "linear"),
    ("why the ensemble?", "model", "ensemble"),
    ("why extra trees?", "model", "extra_trees"),
    ("why XGBoost?", "model", "xgboost"),
    ("why not catboost?", "model", "catboost"),
    ("does it beat the baseline?", "baseline", None),
    ("what's the metric?", "metric", None),
    ("why is Churn the target?", "target", "Churn"),
    ("why 3 minutes?", "budget", None),
    ("why did you drop monthly charges?", "column", "Monthly Charges"),
    ("what about tenure?", "column", "tenure"),
    ("which model won?", "model", None),
    ("why?", "general", None),
])
def test_explain(text: str, topic: str, subject: str | None) -> None:
    check(text, "explain", {"topic": topic, "subject": subject})


@pytest.mark.parametrize("text,path,output", [
    ("predict on march.csv", "march.csv", None),
    ("score new_customers.csv", "new_customers.csv", None),
    ("make predictions for march.csv into out.csv", "march.csv", "out.csv"),
    ("predict march.csv", "march.csv", None),
    ("predict on the rows in data/april.parquet and save to preds.csv", "data/april.parquet", "preds.csv"),
    ("apply the model to 'new batch.csv'", "new batch.csv", None),
    ("predict", "", None),
    ("score the new data", "", None),
])
def test_predict(text: str, path: str, output: str | None) -> None:
    check(text, "predict", {"path": path, "output": output})


@pytest.mark.parametrize("text,path", [
    ("check march.csv for drift", "march.csv"),
    ("monitor march.csv", "march.csv"),
    ("is march.csv still ok for the model?", "march.csv"),
    ("has the data in april.parquet drifted?", "april.parquet"),
    ("check for drift", ""),
    ("check /check/monthly/march.csv for drift", "/check/monthly/march.csv"),
    (r"check /tmp/new\ batch/march.csv for drift", "/tmp/new batch/march.csv"),
])
def test_monitor(text: str, path: str) -> None:
    check(text, "monitor", {"path": path})


@pytest.mark.parametrize("text,model", [
    ("use gpt-4o", "gpt-4o"), ("llm off", "off"), ("switch the llm to qwen2.5", "qwen2.5"),
    ("turn off the llm", "off"), ("don't use the llm", "off"),
    ("use Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
    ("llm llama3.1:8b", "llama3.1:8b"), ("llm", ""), ("use the llm", ""), ("llm mistral", "mistral"),
    ("set the llm to local-model", "local-model"),
    # questions about the model show it, never switch to a word of the question
    ("what llm is this?", ""), ("is the llm on?", ""), ("which model are you?", ""),
])
def test_llm(text: str, model: str) -> None:
    check(text, "llm", {"model": model})


@pytest.mark.parametrize("text,action", [
    # the same verb, different objects
    ("predict on march.csv", "predict"), ("predict churn", "goal"), ("predict churn in march.csv", "goal"),
    ("use F1 instead", "metric"), ("use the file x.csv", "load"), ("use duration after all", "keep"),
    ("use gpt-4o", "llm"), ("use price as the target", "target"), ("don't use duration", "drop"),
    ("don't drop duration", "keep"), ("keep going", "run"), ("keep age", "keep"),
    ("show the plan", "plan"), ("explain the plan", "explain"), ("run the plan", "run"),
    ("how good is it compared to guessing?", "explain"), ("compare with the last run", "compare"),
    ("detect fraud", "goal"), ("detect drift", "monitor"),
    ("list runs", "runs"), ("run it", "run"), ("abort the run", "stop"),
    ("3 minutes", "budget"), ("predict churn in 3 minutes", "goal"), ("why 3 minutes?", "explain"),
    ("target churn", "target"), ("predict column y", "goal"), ("target", "explain"),
    ("why is the llm off?", "explain"), ("llm off", "llm"),
    ("the llm is great", "unknown"), ("tell me about the llm budget", "unknown"),
    ("how much did the llm cost", "unknown"),
    ("recall matters most", "metric"), ("predict churn, recall matters most", "goal"),
    ("score new.csv", "predict"), ("score models by f1", "metric"),
    ("compare the models", "leaderboard"), ("compare with the last run", "compare"),
    ("which model did you pick?", "explain"), ("which models did you try?", "leaderboard"),
])
def test_tricky_pairs(text: str, action: str) -> None:
    check(text, action, None)


@pytest.mark.parametrize("text,action,args", [
    ("/load 'my data.csv'", "load", {"path": "my data.csv"}),
    ("/load /tmp/my data/x.csv", "load", {"path": "/tmp/my data/x.csv"}),
    ("/load /tmp/my\\ data/x.csv", "load", {"path": "/tmp/my data/x.csv"}),
    ("/goal predict churn; 5 minutes", "goal", {"goal": "predict churn; 5 minutes"}),
    ("/target churn", "target", {"column": "Churn"}),
    ("/metric roc auc", "metric", {"metric": "roc_auc"}),
    ("/budget 120", "budget", {"seconds": 120.0}),
    ("/drop age", "drop", {"columns": ["Age"]}),
    ("/predict march.csv out.csv", "predict", {"path": "march.csv", "output": "out.csv"}),
    ("/explain lightgbm", "explain", {"topic": "model", "subject": "lightgbm"}),
    ("/llm off", "llm", {"model": "off"}),
    ("/runs", "runs", {}), ("/quit", "quit", {}), ("/frobnicate", "unknown", {}),
])
def test_slash_commands(text: str, action: str, args: dict) -> None:
    check(text, action, args)


def test_slash_run_and_stop_follow_the_pending_plan() -> None:
    check("/run", "approve", {}, pending=True)
    check("/stop", "cancel", {}, pending=True)


def test_a_column_named_like_a_model_family_is_a_column() -> None:
    check("use phi", "keep", {"columns": ["phi"]}, columns=["phi", "theta"])


def test_help_text_lists_phrasings_and_commands() -> None:
    text = help_text()
    assert 3 <= len(text.splitlines()) <= 12
    for command in Commands.names():
        assert f"/{command} " in text + " ", f"/{command} is missing from the help text"
    assert "predict" in text and "<" not in text and "[" not in text


def test_parse_is_pure(capsys: pytest.CaptureFixture[str]) -> None:
    first = parse("drop duration", columns=COLUMNS)
    assert parse("drop duration", columns=COLUMNS) == first
    assert capsys.readouterr() == ("", "")
