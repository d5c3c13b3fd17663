"""A corpus of bad and odd inputs, each with the exit code and the words the CLI must answer with.

`corpus(folder, run_dir)` writes the files it needs into ``folder`` (from the real titanic table, and the
fixtures in tests/data/intake) and returns the cases; ``run_dir`` is a finished run that the predict,
monitor, resume and report cases use (copied when a case damages it). Exit 2 is bad input, said clearly;
exit 0 is a run or a prediction that went ahead with a note. None may exit 1 (a bug).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
INTAKE = Path(__file__).resolve().parent / "data" / "intake"
TITANIC = DATASETS / "titanic.csv"


@dataclass
class Case:
    name: str
    argv: list[str]
    code: int
    words: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    trains: bool = False   # goes ahead with a real run (slow: kept to a few)


def _titanic() -> pd.DataFrame:
    return pd.read_csv(TITANIC)


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _frame(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _files(folder: Path) -> dict[str, Path]:
    """Every input file of the corpus, by case name."""
    t = _titanic()
    lines = t.to_csv(index=False).splitlines()
    f: dict[str, Path] = {}
    f["empty"] = _write(folder, "empty.csv", b"")
    f["whitespace"] = _write(folder, "blank.csv", "  \n\n \t\n")
    f["header_only"] = _write(folder, "header_only.csv", lines[0] + "\n")
    f["one_column"] = _write(folder, "one_column.csv", "value\n" + "\n".join(str(i) for i in range(50)) + "\n")
    f["png"] = shutil.copy(INTAKE / "image.png", folder / "image.csv")
    f["xlsx"] = shutil.copy(INTAKE / "book.xlsx", folder / "book.xlsx")
    f["binary"] = shutil.copy(INTAKE / "binary.dat", folder / "binary.csv")
    f["gzip"] = shutil.copy(INTAKE / "titanic.csv.gz", folder / "titanic_gz.csv")
    f["nul_bytes"] = _write(folder, "nul.csv", b"a,b\n1,\x002\n" * 20)
    f["jsonl"] = _write(folder, "records.csv", "\n".join(json.dumps(r) for r in t.head(50).to_dict("records")))
    f["json_array"] = _write(folder, "array.csv", json.dumps(t.head(50).to_dict("records")))
    f["json_pretty"] = _write(folder, "pretty.csv", json.dumps({"rows": t.head(5).to_dict("records")}, indent=2))
    f["mixed_delimiters"] = _write(folder, "mixed.csv", "\n".join(
        [lines[0]] + [line if i % 2 else line.replace(",", ";") for i, line in enumerate(lines[1:])]) + "\n")
    f["long_row"] = _write(folder, "long_row.csv", "\n".join(lines[:40] + [lines[40] + ",extra,fields"] + lines[41:]))
    f["utf16_long_row"] = _write(folder, "utf16_long.csv", (
        "\n".join(lines[:40] + [lines[40] + ",extra"] + lines[41:]) + "\n").encode("utf-16-le"))
    f["unclosed_quote"] = shutil.copy(INTAKE / "unclosed_quote.csv", folder / "unclosed_quote.csv")
    f["pdf"] = _write(folder, "report.csv", b"%PDF-1.4\n" + b"\x00\x01binary" * 50)
    loop_a, loop_b = folder / "loop_a.csv", folder / "loop_b.csv"
    os.symlink(loop_b, loop_a)
    os.symlink(loop_a, loop_b)
    f["symlink_loop"] = loop_a
    f["dangling"] = folder / "dangling.csv"
    os.symlink(folder / "gone.csv", f["dangling"])

    inf = t.copy()
    inf.loc[:5, "fare"] = np.inf
    inf.loc[6:9, "fare"] = -np.inf
    inf.loc[10, "age"] = 1e308
    f["inf_feature"] = _frame(folder, "inf_feature.csv", inf)
    for name, value in (("inf_target", np.inf), ("huge_target", 1e308)):
        bad = t.copy()
        bad["survived"] = bad["survived"].astype(float)
        bad.loc[:3, "survived"] = value
        f[name] = _frame(folder, f"{name}.csv", bad)
    missing = t.head(100).copy()
    missing["survived"] = None
    f["target_missing"] = _frame(folder, "target_missing.csv", missing)
    constant = t.head(100).copy()
    constant["survived"] = 1
    f["target_constant"] = _frame(folder, "target_constant.csv", constant)
    f["few_rows"] = _frame(folder, "few_rows.csv", t.head(12))
    rare = t.head(200).copy()
    rare["survived"] = 0
    rare.loc[:4, "survived"] = 1
    f["few_per_class"] = _frame(folder, "few_per_class.csv", rare)
    ids = t[["name", "survived"]].copy()
    ids.insert(0, "pid", range(len(ids)))
    f["all_identifiers"] = _frame(folder, "all_identifiers.csv", ids)
    text = t.copy()
    text["survived"] = [f"passenger number {i}" for i in range(len(t))]
    f["target_identifier"] = _frame(folder, "target_identifier.csv", text)
    # Odd but usable, all at once: UTF-16 without a byte-order mark, infinite values, a second 'survived'
    # column, and every 20th row two fields short.
    odd = inf.to_csv(index=False).splitlines()
    odd = [odd[0] + ",survived"] + [line + f",{i % 2}" for i, line in enumerate(odd[1:])]
    odd = [odd[0]] + [line.rsplit(",", 2)[0] if i % 20 == 5 else line for i, line in enumerate(odd[1:])]
    f["odd"] = _write(folder, "odd.csv", ("\n".join(odd) + "\n").encode("utf-16-le"))
    f["titanic"] = shutil.copy(TITANIC, folder / "titanic.csv")
    f["new_rows_missing_columns"] = _frame(folder, "new_rows_missing_columns.csv", t.drop(columns=["age", "fare"]))
    empty_rows = pd.DataFrame({c: [None] * 20 for c in t.columns if c != "survived"})
    f["all_empty_rows"] = _frame(folder, "all_empty_rows.csv", empty_rows)
    return f


def _damaged(run_dir: Path, folder: Path, name: str, damage: str) -> Path:
    """A copy of ``run_dir`` with one thing broken."""
    copy = folder / "runs" / f"{run_dir.name}-{name}"
    shutil.copytree(run_dir, copy)
    manifest = copy / "manifest.json"
    if damage == "manifest_not_json":
        manifest.write_text("{ this is not json")
    elif damage == "manifest_a_list":
        manifest.write_text("[1, 2, 3]")
    elif damage == "no_model":
        (copy / "model.joblib").unlink()
        data = json.loads(manifest.read_text())
        data.pop("model")
        manifest.write_text(json.dumps(data))
    elif damage == "model_changed":
        with open(copy / "model.joblib", "ab") as handle:
            handle.write(b"\0")
    elif damage == "no_reference":
        (copy / "reference.json").unlink()
    elif damage == "no_manifest":
        manifest.unlink()
    elif damage == "unwritable_records":  # as a read-only folder would (tests run as root, who may write anyway)
        shutil.rmtree(copy / "predictions", ignore_errors=True)
        (copy / "predictions").write_text("not a folder")
    return copy


def corpus(folder: Path, run_dir: Path) -> list[Case]:
    """The cases, with their files written into ``folder`` (and damaged copies of ``run_dir``)."""
    folder.mkdir(parents=True, exist_ok=True)
    f = _files(folder)
    cases: list[Case] = []

    def run(name: str, path: Path | str, code: int, *words: str, extra: tuple[str, ...] = ("--target", "survived"),
            env: dict | None = None, trains: bool = False) -> None:
        cases.append(Case(name, ["run", str(path), *extra, "--budget", "5"], code, words, env or {}, trains))

    run("missing_file", folder / "titanc.csv", 2, "No file at")
    run("folder", folder, 2, "is a folder, not a file")
    run("empty", f["empty"], 2, "empty")
    run("whitespace", f["whitespace"], 2, "only whitespace")
    run("header_only", f["header_only"], 2, "no data rows")
    run("one_column", f["one_column"], 2, "single column")
    run("png", f["png"], 2, "PNG image")
    run("xlsx", f["xlsx"], 2, "CSV")
    run("binary", f["binary"], 2, "binary")
    run("gzip", f["gzip"], 2, "gzip")
    run("nul_bytes", f["nul_bytes"], 2, "binary")
    run("pdf", f["pdf"], 2, "PDF")
    run("jsonl", f["jsonl"], 2, "JSON Lines", "read_json")
    run("json_array", f["json_array"], 2, "holds JSON", "read_json")
    run("json_pretty", f["json_pretty"], 2, "holds JSON")
    run("mixed_delimiters", f["mixed_delimiters"], 2, "mixes delimiters", "';'")
    run("long_row", f["long_row"], 2, "line 41", "fields")
    run("utf16_without_bom_long_row", f["utf16_long_row"], 2, "line 41")
    run("unclosed_quote", f["unclosed_quote"], 2, "quote")
    run("symlink_loop", f["symlink_loop"], 2, "symbolic link in a loop")
    run("dangling_symlink", f["dangling"], 2, "symbolic link", "does not exist")
    run("target_absent", f["titanic"], 2, "'survive' is not in the data", "'survived'", extra=("--target", "survive"))
    run("target_empty_option", f["titanic"], 2, "--target is empty", extra=("--target", ""))
    run("goal_names_no_column", f["titanic"], 2, "Could not tell which column", extra=("--goal", "make me rich"))
    run("target_all_missing", f["target_missing"], 2, "all 100 values are missing")
    run("target_constant", f["target_constant"], 2, "has one value")
    run("target_infinite", f["inf_target"], 2, "infinite or overflowing", "survived")
    run("target_overflowing", f["huge_target"], 2, "infinite or overflowing")
    run("few_rows", f["few_rows"], 2, "at least")
    run("few_rows_per_class", f["few_per_class"], 2, "too few rows per class")
    run("target_identifier", f["target_identifier"], 2, "identifier or free text")
    run("nothing_to_learn", f["all_identifiers"], 2, "Nothing is left to learn from", "'pid'", "'name'")
    run("binary_task_three_classes", f["titanic"], 2, "cannot be binary",
        extra=("--target", "pclass", "--task", "binary"))
    run("regression_on_text", f["titanic"], 2, "cannot be a regression target",
        extra=("--target", "sex", "--task", "regression"))
    run("unknown_metric", f["titanic"], 2, "metric", extra=("--target", "survived", "--metric", "happiness"))
    run("metric_for_another_task", f["titanic"], 2, "does not fit a binary task",
        extra=("--target", "survived", "--metric", "rmse"))
    run("keep_unknown_column", f["titanic"], 2, "not in the data", extra=("--target", "survived", "--keep", "nope"))
    run("drop_unknown_column", f["titanic"], 2, "not in the data", extra=("--target", "survived", "--drop", "nope"))
    run("delimiter_two_characters", f["titanic"], 2, "single character",
        extra=("--target", "survived", "--delimiter", "::"))
    run("unknown_encoding", f["titanic"], 2, "Unknown encoding", extra=("--target", "survived", "--encoding", "nope"))
    for value, words in (("nan", ("must be a number",)), ("inf", ("must be a number",)), ("1e9", ("7 days",)),
                         ("-1", ("at least",)), ("2", ("at least",))):
        cases.append(Case(f"budget_{value}", ["run", str(TITANIC), "--target", "survived", f"--budget={value}"], 2,
                          ("--budget",) + words))
    cases.append(Case("budget_not_a_number", ["run", str(TITANIC), "--budget", "soon"], 2, ("invalid float",)))
    for option, value, words in (("--folds", "1", "between 2 and 20"), ("--folds", "50", "between 2 and 20"),
                                 ("--n-jobs", "0", "1 or more"), ("--max-trials", "-1", "0 or more"),
                                 ("--llm-share", "0.9", "at most 0.5"), ("--llm-max-tokens", "10", "at least 64"),
                                 ("--task", "clustering", "invalid choice")):
        cases.append(Case(f"option{option}_{value}", ["run", str(TITANIC), "--target", "survived", option, value,
                                                      "--budget", "5"], 2, (words,)))
    cases.append(Case("env_seed_not_a_number", ["run", str(TITANIC), "--target", "survived", "--budget", "5"], 2,
                      ("MLPILOT_SEED",), env={"MLPILOT_SEED": "abc"}))
    cases.append(Case("env_budget_not_a_number", ["run", str(TITANIC), "--target", "survived"], 2,
                      ("MLPILOT_BUDGET",), env={"MLPILOT_BUDGET": "soon"}))

    # Odd but usable: the run goes ahead, and says what it did.
    run("odd_but_usable", f["odd"], 0, "column 'fare': 10 infinite or overflowing value(s)",
        "column 'age': 1 infinite or overflowing value(s)", "45 row(s) have fewer fields than the header",
        "repeats the name 'survived'", trains=True)

    # Using a run: predict, monitor, resume, report, rerun.
    runs = folder / "runs"
    runs.mkdir(exist_ok=True)
    out = folder / "out"
    out.mkdir()

    def use(name: str, argv: list[str], code: int, *words: str) -> None:
        cases.append(Case(name, [*argv, "--runs-dir", str(runs)], code, words))

    use("predict_no_such_run", ["predict", "20990101-nope", str(TITANIC), "-o", str(out / "p.csv")], 2,
        "No run folder")
    use("predict_pattern_matching_nothing", ["predict", "*nothing*", str(TITANIC), "-o", str(out / "p.csv")], 2,
        "No run folder")
    use("predict_bad_bracket", ["predict", "[", str(TITANIC), "-o", str(out / "p.csv")], 2, "No run folder")
    for damage, words in (("manifest_not_json", ("not valid JSON",)), ("manifest_a_list", ("not an mlpilot manifest",)),
                          ("no_model", ("has no saved model",)), ("model_changed", ("not", "--trust")),
                          ("no_manifest", ("No run folder",))):
        copy = _damaged(run_dir, folder, damage, damage)
        use(f"predict_{damage}", ["predict", str(copy), str(TITANIC), "-o", str(out / f"{damage}.csv")], 2, *words)
    use("predict_missing_columns", ["predict", str(run_dir), str(f["new_rows_missing_columns"]), "-o",
                                    str(out / "p.csv")], 2, "lacks 2 column(s)", "'age'")
    use("predict_output_folder", ["predict", str(run_dir), str(TITANIC), "-o", str(out)], 2, "is a folder")
    use("predict_output_device", ["predict", str(run_dir), str(TITANIC), "-o", "/dev/null"], 2, "is a device")
    use("predict_output_is_input", ["predict", str(run_dir), str(f["titanic"]), "-o", str(f["titanic"])], 2,
        "is the input file")
    use("predict_output_xlsx", ["predict", str(run_dir), str(TITANIC), "-o", str(out / "p.xlsx")], 2, ".xlsx",
        ".parquet")
    use("predict_output_folder_missing", ["predict", str(run_dir), str(TITANIC), "-o", str(out / "no" / "p.csv")],
        2, "does not exist")
    use("predict_empty_file", ["predict", str(run_dir), str(f["empty"]), "-o", str(out / "p.csv")], 2, "empty")
    blocked = _damaged(run_dir, folder, "records", "unwritable_records")
    use("predict_into_a_run_that_cannot_record_it", ["predict", str(blocked), str(TITANIC), "-o", str(out / "r.csv")],
        0, "not recorded in the run folder", "wrote 891")
    use("predict_all_empty_rows", ["predict", str(run_dir), str(f["all_empty_rows"]), "-o", str(out / "e.csv")], 0,
        "no value in any of the model's")
    use("predict_infinite_values", ["predict", str(run_dir), str(f["inf_feature"]), "-o", str(out / "i.csv")], 0,
        "infinite or overflowing")
    use("monitor_no_reference", ["monitor", str(_damaged(run_dir, folder, "noref", "no_reference")), str(TITANIC)], 2,
        "no reference.json")
    use("monitor_json_lines", ["monitor", str(run_dir), str(f["jsonl"])], 2, "JSON Lines")
    use("resume_completed_run", ["resume", str(run_dir)], 2, "only an interrupted run can be resumed")
    use("resume_no_such_run", ["resume", "20990101-nope"], 2, "No run folder")
    use("report_damaged_manifest", ["report", str(_damaged(run_dir, folder, "report", "manifest_not_json"))], 2,
        "not valid JSON")
    use("rerun_replay_without_llm", ["rerun", str(run_dir), "--replay"], 2, "made no LLM calls")
    use("retrain_without_target", ["retrain", str(run_dir), str(f["all_empty_rows"])], 2, "no 'survived' column")
    return cases
