"""Rows sent as JSON to a served model: each value checked against its training type, refusals that name
the column, the expected type and the row; and folders of logged batches read back for monitoring."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from agent.use.batch import read_batch
from agent.use.inputlog import InputLog
from tools.errors import ConfigError, DataError
from tools.records import RecordError, payload_records, records_frame

SCHEMA = [
    {"name": "age", "kind": "numeric", "parsed_from": "as read"},
    {"name": "member", "kind": "boolean", "parsed_from": "yes/no tokens", "true_token": "yes", "false_token": "no"},
    {"name": "joined", "kind": "datetime", "parsed_from": "dates (%d/%m/%Y)"},
    {"name": "city", "kind": "string", "parsed_from": "as read"},
]
FEATURES = ["age", "member", "joined", "city"]


def test_values_of_the_training_types_are_accepted_in_their_usual_spellings() -> None:
    rows = payload_records({"records": [
        {"age": 31, "member": "yes", "joined": "02/03/2020", "city": "Oslo"},
        {"age": "40.5", "member": False, "joined": "2021-07-09T10:00:00", "city": 7},
        {"age": None, "member": 1, "joined": None, "city": None, "extra": "kept for conform"},
        {"age": "", "member": "No", "joined": "", "city": True},
    ]})
    frame = records_frame(rows, SCHEMA, required=FEATURES)
    assert frame["age"].tolist()[:2] == [31.0, 40.5] and frame["age"].isna().tolist()[2:] == [True, True]
    assert frame["member"].tolist() == [True, False, True, False]
    assert str(frame["joined"].dtype) == "datetime64[ns]"
    assert frame["joined"].iloc[0] == pd.Timestamp("2020-03-02")  # the training format, day first
    assert frame["city"].tolist()[:2] == ["Oslo", "7"] and frame["city"].iloc[3] == "true"
    assert "extra" in frame.columns


@pytest.mark.parametrize("row, words", [
    ({"age": "forty", "member": True, "joined": None, "city": "x"}, ["'age'", "a number", "row 0", "'forty'"]),
    ({"age": True, "member": True, "joined": None, "city": "x"}, ["'age'", "a number", "true/false"]),
    ({"age": 3, "member": "maybe", "joined": None, "city": "x"}, ["'member'", "true or false"]),
    ({"age": 3, "member": True, "joined": "soon", "city": "x"}, ["'joined'", "a date"]),
    ({"age": 3, "member": True, "joined": 20200101, "city": "x"}, ["'joined'", "a number"]),
    ({"age": 3, "member": True, "joined": None, "city": ["a"]}, ["'city'", "a list"]),
])
def test_a_value_of_the_wrong_type_is_refused_naming_column_type_and_row(row: dict, words: list[str]) -> None:
    with pytest.raises(RecordError) as caught:
        records_frame([{"age": 1, "member": True, "joined": None, "city": "y"}, row], SCHEMA, required=FEATURES)
    message = str(caught.value)
    for word in words:
        assert word.replace("row 0", "row 1") in message, message


def test_a_missing_column_is_named_with_its_type_and_a_case_difference_is_not_missing() -> None:
    with pytest.raises(RecordError) as caught:
        records_frame([{"age": 1, "member": True, "city": "y"}], SCHEMA, required=FEATURES)
    assert "'joined' (a date or time (text))" in str(caught.value) and caught.value.column == "joined"
    frame = records_frame([{"AGE": 1, "member": True, "joined": None, "City ": "y"}], SCHEMA, required=FEATURES)
    assert list(frame.columns) == ["AGE", "member", "joined", "City "]  # conform matches them, with a note
    assert frame["AGE"].dtype == "float64", "held to the training type of the column it matches"


def test_a_column_matched_by_case_is_held_to_its_type() -> None:
    with pytest.raises(RecordError) as caught:
        records_frame([{"AGE": "forty", "member": True, "joined": None, "city": "y"}], SCHEMA, required=FEATURES)
    assert "'AGE'" in str(caught.value) and "a number" in str(caught.value)


@pytest.mark.parametrize("payload, words", [(3, "a number"), ([1, 2], "Row 0"), ([], "no rows"),
                                            ({"records": "x"}, "text")])
def test_payloads_that_are_not_rows_are_refused(payload: object, words: str) -> None:
    with pytest.raises(RecordError, match=words):
        payload_records(payload)


def test_a_folder_of_logged_batches_is_read_as_one_and_since_keeps_recent_days(tmp_path) -> None:
    log = InputLog(tmp_path / "live", features=["age", "city"])
    rows = pd.DataFrame({"age": [1.0, 2.0, None], "city": ["a", "b,c", None]})
    preds = pd.DataFrame({"prediction": [0, 1, 1], "proba_1": [0.1, 0.9, 0.8]})
    log.append(rows, preds, request_id="r1")
    log.append(rows.head(1), preds.head(1), request_id="r2")
    old = tmp_path / "live" / "inputs-2020-01-01-host-1.csv"
    old.write_text("age,city,mlpilot_prediction\n5,z,0\n")
    table = read_batch(tmp_path / "live")
    assert len(table.frame) == 5 and list(table.frame.columns) == ["age", "city"]
    assert table.frame["city"].fillna("-").tolist() == ["z", "a", "b,c", "-", "a"]  # the older day first
    assert any("logged by mlpilot serve" in n for n in table.notes)
    assert len(read_batch(tmp_path / "live", since=time.strftime("%Y-%m-%d", time.gmtime())).frame) == 4
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        read_batch(tmp_path / "live", since="yesterday")
    with pytest.raises(DataError, match="no CSV or Parquet files dated 2999-01-01"):
        read_batch(tmp_path / "live", since="2999-01-01")


def test_a_line_cut_by_a_killed_service_is_reported_not_fatal(tmp_path) -> None:
    log = InputLog(tmp_path, features=["age", "city"])
    log.append(pd.DataFrame({"age": [1.0, 2.0], "city": ["a", "b"]}), pd.DataFrame({"prediction": [0, 1]}),
               request_id="r1")
    path = next(tmp_path.glob("inputs-*.csv"))
    with open(path, "ab") as out:  # what a SIGKILL between two writes of one line would leave
        out.write(b"3.0,c")
    table = read_batch(tmp_path)
    assert len(table.frame) == 3 and table.frame["age"].tolist() == [1.0, 2.0, 3.0]
    assert any("fewer fields than the header" in w for w in table.warnings), table.warnings


def test_a_log_folder_that_cannot_be_written_is_a_clear_error(tmp_path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("")
        target = blocker / "live"  # a folder inside a file: refused even for root
    else:
        target = tmp_path / "ro" / "live"
        (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(ConfigError, match="--log-inputs"):
        InputLog(target, features=["age"])
