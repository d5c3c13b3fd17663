"""tools.intake on the real data sets, on small fixtures derived from them, and on broken files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.errors import DataError
from tools.intake import ColumnSpec, Table, file_sha256, read_table
from tools.sniff import sniff_delimiter


@pytest.fixture
def intake_dir(data_dir: Path) -> Path:
    return data_dir / "intake"


def spec(table: Table, name: str) -> ColumnSpec:
    return next(c for c in table.columns if c.name == name)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ---- the real data sets -----------------------------------------------------------------------------

def test_titanic_commas_inside_quotes(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "titanic.csv")
    assert t.shape == (891, 11)
    assert (t.file_format, t.delimiter, t.encoding, t.decimal) == ("csv", ",", "utf-8", ".")
    assert t.frame["name"].iloc[0] == "Braund, Mr. Owen Harris"
    assert t.frame["age"].dtype == "float64" and t.frame["age"].isna().sum() == 177
    assert t.frame["survived"].dtype == "int64" and spec(t, "survived").kind == "numeric"
    assert t.frame["cabin"].dtype == "str" and t.frame["cabin"].isna().sum() == 687
    assert spec(t, "embarked") == ColumnSpec("embarked", "string", "str", "as read")
    assert t.notes == ()
    assert t.path == str((datasets_dir / "titanic.csv").resolve())
    assert t.sha256 == hashlib.sha256((datasets_dir / "titanic.csv").read_bytes()).hexdigest()
    assert t.sha256 == file_sha256(datasets_dir / "titanic.csv")


def test_schema_is_json_and_round_trips(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "bank_marketing.csv")
    schema = json.loads(json.dumps(t.schema()))
    assert [d["name"] for d in schema] == list(t.frame.columns)
    assert [ColumnSpec.from_dict(d) for d in schema] == list(t.columns)
    assert ColumnSpec.from_dict({**schema[0], "added_later": 1}) == t.columns[0]  # unknown keys ignored


def test_bank_marketing_semicolons_and_yes_no(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "bank_marketing.csv")
    assert t.shape == (4521, 17) and t.delimiter == ";"
    assert "delimiter: ';' (detected)" in t.notes
    y = spec(t, "y")
    assert (y.kind, y.dtype, y.parsed_from, y.true_token, y.false_token) == ("boolean", "boolean", "yes/no tokens", "yes", "no")
    assert int(t.frame["y"].sum()) == 521
    assert t.frame["balance"].dtype == "int64" and t.frame["pdays"].min() == -1
    assert t.frame["job"].dtype == "str"


def test_taxis_datetimes(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "taxis.csv")
    assert t.shape == (6433, 14)
    for name in ("pickup", "dropoff"):
        assert t.frame[name].dtype == "datetime64[ns]"
        assert spec(t, name).parsed_from == "dates (%Y-%m-%d %H:%M:%S)"
    assert t.frame["pickup"].iloc[0] == pd.Timestamp("2019-03-23 20:21:09")
    assert t.frame["payment"].isna().sum() == 44


def test_hypothyroid_t_f_booleans(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "hypothyroid.csv")
    assert t.shape == (3772, 30)
    sick = spec(t, "sick")
    assert (sick.kind, sick.parsed_from, sick.true_token, sick.false_token) == ("boolean", "t/f tokens", "t", "f")
    booleans = [c.name for c in t.columns if c.kind == "boolean"]
    assert len(booleans) == 19
    # A constant 'f' is not two tokens: it stays text (and the profile will call it constant).
    assert spec(t, "TBG measured").kind == "string"
    assert t.frame["sex"].isna().sum() == 150 and spec(t, "sex").kind == "string"
    grouped = [n for n in t.notes if "read as booleans" in n]
    assert grouped == [n for n in grouped if n.startswith("19 columns")] and len(grouped) == 1


def test_mammography_quoted_numbers(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "mammography.csv")
    cls = spec(t, "class")
    assert (cls.kind, cls.dtype, cls.parsed_from) == ("numeric", "int64", "numbers stored as text")
    assert set(t.frame["class"].unique()) == {-1, 1}
    assert int((t.frame["class"] == 1).sum()) == 260
    assert any("'-1'" in n for n in t.notes)


def test_credit_g_none_is_a_category_not_missing(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "credit_g.csv")
    assert set(t.frame["own_telephone"].unique()) == {"yes", "none"}
    assert spec(t, "own_telephone").kind == "string"
    assert spec(t, "foreign_worker").kind == "boolean"


def test_phoneme_zero_one_stays_numeric(datasets_dir: Path) -> None:
    t = read_table(datasets_dir / "phoneme.csv")
    assert spec(t, "class") == ColumnSpec("class", "numeric", "int64", "as read")


def test_every_dataset_reads_with_contract_dtypes(datasets_dir: Path) -> None:
    index = json.loads((datasets_dir / "INDEX.json").read_text())
    allowed = {"int64", "float64", "boolean", "datetime64[ns]", "str"}
    for entry in index:
        t = read_table(datasets_dir / entry["file"])
        assert t.shape == (entry["rows"], entry["columns"]), entry["file"]
        assert {c.dtype for c in t.columns} <= allowed, entry["file"]
        assert [c.dtype for c in t.columns] == [str(d) for d in t.frame.dtypes], entry["file"]


# ---- fixtures derived from titanic ------------------------------------------------------------------

def test_semicolon_and_decimal_comma(intake_dir: Path, datasets_dir: Path) -> None:
    t = read_table(intake_dir / "titanic_semicolon_comma.csv")
    original = read_table(datasets_dir / "titanic.csv").frame.head(60)
    assert (t.delimiter, t.decimal) == (";", ",")
    assert spec(t, "fare").parsed_from == "decimal comma"
    pd.testing.assert_series_equal(t.frame["fare"], original["fare"])
    pd.testing.assert_series_equal(t.frame["age"], original["age"])
    assert t.frame["name"].iloc[0] == "Braund, Mr. Owen Harris"
    assert t.frame["cabin"].isna().sum() == original["cabin"].isna().sum()  # quoted "" is missing too


def test_latin1_with_accents(intake_dir: Path) -> None:
    t = read_table(intake_dir / "titanic_latin1.csv")
    assert t.encoding == "latin-1" and t.shape == (40, 11)
    assert t.frame["name"].iloc[0] == "Müller, Mr. Jürgen"
    assert t.frame["name"].iloc[1] == "Éluard, Mrs. Zoé (Françoise Ñúñez)"
    assert any("not valid UTF-8" in n for n in t.notes)


def test_explicit_encoding_wins(intake_dir: Path) -> None:
    t = read_table(intake_dir / "titanic_latin1.csv", encoding="cp1252")
    assert t.encoding == "cp1252" and t.frame["name"].iloc[2] == "Øberg, Miss. Åsa"
    with pytest.raises(DataError, match="not valid utf-8 text.*encoding='latin-1'"):
        read_table(intake_dir / "titanic_latin1.csv", encoding="utf-8")
    with pytest.raises(DataError, match="Unknown encoding 'klingon'"):
        read_table(intake_dir / "titanic_latin1.csv", encoding="klingon")


def test_cp1252_euro_sign(tmp_path: Path) -> None:
    t = read_table(write(tmp_path / "eur.csv", "item;price\na;€ 1.234,50\nb;€ 12,00\n", "cp1252"))
    assert t.encoding == "cp1252"
    assert t.frame["price"].tolist() == [1234.5, 12.0]


def test_utf8_bom_is_removed(intake_dir: Path) -> None:
    t = read_table(intake_dir / "titanic_bom.csv")
    assert t.encoding == "utf-8-sig"
    assert list(t.frame.columns)[0] == "survived"
    assert not any(c.startswith("\ufeff") for c in t.frame.columns)
    assert t.frame["survived"].dtype == "int64"


def test_tab_separated(intake_dir: Path, datasets_dir: Path) -> None:
    t = read_table(intake_dir / "titanic_tab.tsv")
    assert t.delimiter == "\t" and "delimiter: tab (detected)" in t.notes
    pd.testing.assert_frame_equal(t.frame, read_table(datasets_dir / "titanic.csv").frame.head(50))


def test_pipe_separated_with_quoted_delimiter_and_padded_header(intake_dir: Path) -> None:
    t = read_table(intake_dir / "titanic_pipe.txt")
    assert t.delimiter == "|" and t.shape == (50, 11)
    assert list(t.frame.columns)[:3] == ["survived", "pclass", "name"]  # " pclass " stripped
    assert t.frame["name"].iloc[3] == "Futrelle | Mrs. Jacques Heath"


def test_explicit_delimiter_wins(datasets_dir: Path) -> None:
    with pytest.raises(DataError, match="With the delimiter ';'.*single column"):
        read_table(datasets_dir / "titanic.csv", delimiter=";")
    assert read_table(datasets_dir / "bank_marketing.csv", delimiter=";").shape == (4521, 17)


def test_sniffing_counts_fields_against_the_header() -> None:
    # Under "," every row splits into 3 fields, consistently, but the header does not: ";" wins.
    assert sniff_delimiter("a;b\n1,5;2,5\n3,5;4,5\n", truncated=False) == ";"
    assert sniff_delimiter('x,y\n"a;b;c",1\n"d;e;f",2\n', truncated=False) == ","
    assert sniff_delimiter("just one column\nvalue\n", truncated=False) is None


def test_excel_sep_line(intake_dir: Path) -> None:
    t = read_table(intake_dir / "excel_sep.csv")
    assert list(t.frame.columns) == ["a", "b", "c"] and t.frame["c"].tolist() == [2.5, 3.5]
    assert any("sep=;" in n for n in t.notes)


# ---- value-level detection (messy.csv) --------------------------------------------------------------

@pytest.fixture(scope="module")
def messy() -> Table:
    return read_table(Path(__file__).parent / "data" / "intake" / "messy.csv")


def test_currency_thousands_and_percent(messy: Table) -> None:
    assert spec(messy, "price").parsed_from == "numbers stored as text"
    assert messy.frame["price"].iloc[0] == pytest.approx(3848.17)  # "$3,848.17"
    assert messy.frame["discount"].dtype == "int64" and messy.frame["discount"].iloc[0] == 14  # "14%"
    assert "column 'price': numbers stored as text ('$3,848.17') converted" in messy.notes


def test_na_tokens_but_minus_one_is_a_number(messy: Table) -> None:
    score = messy.frame["score"]
    assert score.dtype == "float64" and spec(messy, "score").parsed_from == "as read"
    assert score.isna().sum() == 13  # ? NA N/A n/a null NULL None - -- nan NaN "" and blanks
    assert score.iloc[2] == -1.0


def test_mostly_numbers_with_one_bad_value(messy: Table) -> None:
    rating = messy.frame["rating"]
    assert rating.dtype == "float64" and rating.isna().sum() == 1 and np.isnan(rating.iloc[40])
    assert any("1 value(s) that are not numbers ('n.a.') became missing" in n for n in messy.notes)


def test_booleans_keep_their_spelling(messy: Table) -> None:
    member = spec(messy, "member")
    assert (member.kind, member.dtype, member.true_token, member.false_token) == ("boolean", "boolean", "Yes", "No")
    assert messy.frame["member"].isna().sum() == 1 and pd.isna(messy.frame["member"].iloc[3])
    # pandas reads True/False itself; the spelling still comes from the file.
    active = spec(messy, "active")
    assert (active.kind, active.true_token, active.false_token) == ("boolean", "True", "False")
    assert spec(messy, "code01") == ColumnSpec("code01", "numeric", "int64", "as read")


def test_dates_in_several_formats(messy: Table) -> None:
    f = messy.frame
    assert spec(messy, "signup").parsed_from == "dates (%d/%m/%Y)" and f["signup"].iloc[0] == pd.Timestamp("2021-03-25")
    assert spec(messy, "visit").parsed_from == "dates (%m/%d/%Y)" and f["visit"].iloc[1] == pd.Timestamp("2022-07-27")
    assert spec(messy, "day").parsed_from == "dates (%Y-%m-%d)"
    assert all(f[c].dtype == "datetime64[ns]" for c in ("signup", "visit", "day", "seen_at"))


def test_time_zones_become_utc(messy: Table) -> None:
    assert spec(messy, "seen_at").parsed_from == "dates (%Y-%m-%dT%H:%M:%S%z), converted to UTC"
    assert messy.frame["seen_at"].iloc[0] == pd.Timestamp("2021-03-25 08:03:00")  # 10:03+02:00
    assert any("converted to UTC" in n for n in messy.notes)


def test_numbers_are_never_dates(messy: Table) -> None:
    assert spec(messy, "yyyymmdd") == ColumnSpec("yyyymmdd", "numeric", "int64", "as read")


def test_text_is_stripped(messy: Table) -> None:
    assert set(messy.frame["city"].unique()) == {"Paris", "Lyon", "Nice", "Lille"}
    assert spec(messy, "grade").kind == "string"


def test_thresholds_keep_text_as_text(tmp_path: Path) -> None:
    rows = ["a,b,c,d,e"]
    for i in range(100):
        b = "x" if i % 30 == 0 else str(i)  # 4 values in 100 are not numbers: over the 2% allowed
        c = "maybe" if i == 7 else "yes" if i % 2 else "no"  # a third token: not a boolean
        d = "soon" if i % 15 == 0 else f"2024-01-{i % 28 + 1:02d}"  # 7% are not dates: over the 5% allowed
        e = "-" if i % 2 else "-1"  # "-" is missing, "-1" a number
        rows.append(f"{i},{b},{c},{d},{e}")
    t = read_table(write(tmp_path / "t.csv", "\n".join(rows) + "\n"))
    assert [spec(t, n).kind for n in "bcd"] == ["string", "string", "string"]
    assert t.frame["e"].dtype == "float64" and t.frame["e"].iloc[0] == -1 and t.frame["e"].isna().sum() == 50


def test_decimal_comma_with_thousands_and_dotted_dates(intake_dir: Path) -> None:
    t = read_table(intake_dir / "prices_de.csv")
    assert (t.delimiter, t.decimal) == (";", ",")
    assert t.frame["preis"].tolist() == [1234.5, 12.0, 3.99, 1000.0]
    assert spec(t, "preis").parsed_from == "numbers stored as text, decimal comma"
    assert t.frame["anteil"].tolist() == [0.25, 0.5, 1.75, 0.1]
    assert spec(t, "datum").parsed_from == "dates (%d.%m.%Y)" and t.frame["datum"].iloc[0] == pd.Timestamp("2023-12-24")
    assert t.frame["produkt"].iloc[2] == "Kürbis, groß"


# ---- parquet ----------------------------------------------------------------------------------------

def test_parquet_keeps_types_and_types_its_text(tmp_path: Path, datasets_dir: Path) -> None:
    df = pd.read_csv(datasets_dir / "taxis.csv").head(50)  # pickup/dropoff as text
    df["pickup_ny"] = pd.to_datetime(df["pickup"]).dt.tz_localize("America/New_York")
    df["tipped"] = np.where(df["tip"] > 0, "Y", "N")
    df["color_cat"] = df["color"].astype("category")
    df["big"] = df["total"] > 20
    df["total_text"] = df["total"].map(lambda v: f"${v:,.2f}")
    df.to_parquet(tmp_path / "taxis.parquet")
    t = read_table(tmp_path / "taxis.parquet")
    assert (t.file_format, t.encoding, t.delimiter, t.decimal) == ("parquet", None, None, None)
    assert t.shape == (50, 19)
    assert spec(t, "pickup").parsed_from == "dates (%Y-%m-%d %H:%M:%S)"
    assert t.frame["pickup_ny"].dtype == "datetime64[ns]"
    assert t.frame["pickup_ny"].iloc[0] == pd.Timestamp("2019-03-24 00:21:09")  # 20:21 EDT in UTC
    assert (spec(t, "tipped").kind, spec(t, "tipped").true_token) == ("boolean", "Y")
    assert spec(t, "big") == ColumnSpec("big", "boolean", "boolean", "as read")
    assert t.frame["color_cat"].dtype == "str"
    assert t.frame["total_text"].tolist() == df["total"].tolist()
    (tmp_path / "copy.pq").write_bytes((tmp_path / "taxis.parquet").read_bytes())
    assert read_table(tmp_path / "copy.pq").shape == (50, 19)


def test_broken_parquet(tmp_path: Path) -> None:
    write(tmp_path / "bad.parquet", "PAR1 this is not really parquet")
    with pytest.raises(DataError, match="could not be read as Parquet"):
        read_table(tmp_path / "bad.parquet")


# ---- clear errors -----------------------------------------------------------------------------------

def test_missing_file_suggests_similar_names(datasets_dir: Path) -> None:
    with pytest.raises(DataError, match=r"No file at '.*titanc\.csv'\. Check the path; files in that folder with similar names: 'titanic\.csv'"):
        read_table(datasets_dir / "titanc.csv")


def test_folder_instead_of_file(datasets_dir: Path) -> None:
    with pytest.raises(DataError, match=r"is a folder, not a file\. Pass one CSV or Parquet file inside it\. Tables in it: abalone\.csv.*\(13 in all\)"):
        read_table(datasets_dir)


@pytest.mark.parametrize(("name", "message"), [
    ("empty.csv", r"is empty \(0 bytes\)"),
    ("whitespace.csv", "contains only whitespace"),
    ("image.png", "is a PNG image, not a text table"),
    ("titanic.csv.gz", "is gzip-compressed.*Decompress it"),
    ("book.xlsx", "Excel .xlsx.*export the sheet as CSV"),
    ("binary.dat", "looks like a binary file"),
    ("header_only.csv", r"has a header \(survived, pclass, name, sex, age\) but no data rows"),
    ("unclosed_quote.csv", "could not be parsed.*unclosed quote"),
])
def test_unreadable_files(intake_dir: Path, name: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_table(intake_dir / name)


@pytest.mark.parametrize("name", ["single_column.csv", "colon_separated.csv"])
def test_single_column_names_the_delimiters_tried(intake_dir: Path, name: str) -> None:
    with pytest.raises(DataError, match=r"single column: none of the delimiters ',', ';', tab, '\|'.*--delimiter"):
        read_table(intake_dir / name)
    assert read_table(intake_dir / "colon_separated.csv", delimiter=":").shape == (2, 3)


def test_duplicate_names_are_renamed(intake_dir: Path) -> None:
    t = read_table(intake_dir / "duplicate_names.csv")
    assert list(t.frame.columns) == ["id", "age", "age_2", "Age"]
    assert t.frame["age_2"].tolist() == [21, 31]
    assert "column 3 repeats the name 'age'; renamed it 'age_2' (the first 'age' keeps its name)" in t.notes
    assert t.warnings == ("column 3 repeats the name 'age'; renamed it 'age_2' (the first 'age' keeps its name)",)


def test_ragged_rows_name_the_line(intake_dir: Path) -> None:
    with pytest.raises(DataError, match=r"line 8 has 13 fields but the header has 11 \(1 line\(s\) like this"):
        read_table(intake_dir / "ragged.csv")


def test_windows_line_ends_and_trailing_delimiters(tmp_path: Path) -> None:
    t = read_table(write(tmp_path / "w.csv", '"id","Name ",val,\r\n1,a,1.5,\r\n2,b,2.5,\r\n'))
    assert list(t.frame.columns) == ["id", "Name", "val"] and t.frame["val"].tolist() == [1.5, 2.5]
    assert "the header ends with a delimiter and the last column is empty; dropped it" in t.notes


def test_parser_booleans_with_gaps_keep_the_file_spelling(tmp_path: Path) -> None:
    t = read_table(write(tmp_path / "b.csv", "a,b\n1,TRUE\n2,\n3,FALSE\n4,TRUE\n"))
    assert spec(t, "b") == ColumnSpec("b", "boolean", "boolean", "true/false tokens", "TRUE", "FALSE")
    assert t.frame["b"].isna().sum() == 1


def test_decimal_detection_is_careful_with_three_digit_groups(tmp_path: Path) -> None:
    # A tab file with thousands separators: "1,234" is 1234 there, not 1.234.
    t = read_table(write(tmp_path / "us.tsv", "city\tpeople\nA\t1,234\nB\t12,500\nC\t900\n"))
    assert t.decimal == "." and t.frame["people"].tolist() == [1234, 12500, 900]
    # Once a cell settles it ("2,25"), the same shape is a decimal comma.
    t = read_table(write(tmp_path / "eu.csv", "a;b\nx;1,250\ny;2,25\n"))
    assert t.decimal == "," and t.frame["b"].tolist() == [1.25, 2.25]
