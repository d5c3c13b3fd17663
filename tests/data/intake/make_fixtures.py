"""Regenerate the intake test fixtures in this folder (deterministic; a few KB each).

Most are slices of /work/shared/datasets/titanic.csv saved the way real exports come: with ';' and
decimal commas, in latin-1 with accented names, with a UTF-8 BOM, tab- or pipe-separated. `messy.csv`
gathers the value-level cases (currency, percent, NA tokens, booleans, dates, time zones), the rest are
broken files for the error messages.

    /work/.venv/bin/python tests/data/intake/make_fixtures.py
"""

from __future__ import annotations

import csv
import gzip
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TITANIC = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "titanic.csv"


def titanic(rows: int) -> pd.DataFrame:
    return pd.read_csv(TITANIC).head(rows)


def write_titanic_variants() -> None:
    # ';' with decimal commas, every text field quoted (as Excel in a German locale writes it).
    titanic(60).to_csv(HERE / "titanic_semicolon_comma.csv", sep=";", decimal=",", index=False,
                       quoting=csv.QUOTE_NONNUMERIC)
    # latin-1 with accented names.
    df = titanic(40)
    accents = {0: "Müller, Mr. Jürgen", 1: "Éluard, Mrs. Zoé (Françoise Ñúñez)", 2: "Øberg, Miss. Åsa"}
    for i, name in accents.items():
        df.loc[i, "name"] = name
    (HERE / "titanic_latin1.csv").write_bytes(df.to_csv(index=False).encode("latin-1"))
    # UTF-8 with a byte-order mark.
    (HERE / "titanic_bom.csv").write_bytes(titanic(30).to_csv(index=False).encode("utf-8-sig"))
    titanic(50).to_csv(HERE / "titanic_tab.tsv", sep="\t", index=False)
    # '|' with one name containing the delimiter (so it must be quoted) and headers padded with spaces.
    df = titanic(50)
    df.loc[3, "name"] = "Futrelle | Mrs. Jacques Heath"
    text = df.to_csv(sep="|", index=False)
    header, rest = text.split("\n", 1)
    (HERE / "titanic_pipe.txt").write_text(" | ".join(header.split("|")) + "\n" + rest, encoding="utf-8")


def write_messy() -> None:
    rng = np.random.default_rng(7)
    n = 120
    na_tokens = ["?", "NA", "N/A", "n/a", "null", "NULL", "None", "-", "--", "nan", "NaN", "", "   "]
    score = [f"{v:.1f}" for v in rng.normal(50, 10, n)]
    for i, tok in enumerate(na_tokens):
        score[5 + 7 * i] = tok
    score[2] = "-1"
    rating = [str(int(v)) for v in rng.integers(1, 6, n)]
    rating[40] = "n.a."  # one value in 120 (< 2%) that is not a number
    days = rng.integers(1, 29, n)
    months = rng.integers(1, 13, n)
    days[0], months[0] = 25, 3  # a day above 12: only %d/%m/%Y reads it
    visit_days = rng.integers(1, 29, n)
    visit_days[1], months_us = 27, rng.integers(1, 13, n)  # and the reverse for %m/%d/%Y
    frame = pd.DataFrame({
        "id": np.arange(1, n + 1),
        "price": [f"${v:,.2f}" for v in rng.uniform(10, 5000, n)],
        "discount": [f"{int(v)}%" for v in rng.integers(0, 50, n)],
        "member": rng.choice(["Yes", "No", "yes", "YES"], n, p=[0.5, 0.3, 0.1, 0.1]),
        "active": rng.choice(["True", "False"], n),
        "code01": rng.integers(0, 2, n),
        "signup": [f"{d:02d}/{m:02d}/2021" for d, m in zip(days, months)],
        "visit": [f"{m}/{d}/2022" for d, m in zip(visit_days, months_us)],
        "seen_at": [f"2021-03-{d:02d}T10:{m:02d}:00+02:00" for d, m in zip(days, months)],
        "day": [f"2021-01-{d:02d}" for d in days],
        "yyyymmdd": [f"2021{m:02d}{d:02d}" for d, m in zip(days, months)],
        "score": score,
        "rating": rating,
        "city": rng.choice(["  Paris ", "Lyon", " Nice", "Lille  "], n),
        "grade": rng.choice(["A1", "B2", "C3"], n),
    })
    frame.loc[3, "member"] = ""  # a missing boolean
    frame.to_csv(HERE / "messy.csv", index=False)


def write_small_cases() -> None:
    (HERE / "prices_de.csv").write_text(
        "produkt;preis;menge;datum;anteil\n"
        '"Äpfel";1.234,50;3;24.12.2023;0,25\n'
        '"Birnen";12,00;10;01.02.2024;0,5\n'
        '"Kürbis, groß";3,99;1;15.03.2024;1,75\n'
        '"Pflaumen";1.000,00;2;30.04.2024;0,1\n', encoding="utf-8")
    (HERE / "excel_sep.csv").write_text("sep=;\na;b;c\n1;x;2,5\n2;y;3,5\n", encoding="utf-8")
    (HERE / "empty.csv").write_bytes(b"")
    (HERE / "whitespace.csv").write_text("  \n\n\t \n", encoding="utf-8")
    (HERE / "header_only.csv").write_text("survived,pclass,name,sex,age\n", encoding="utf-8")
    (HERE / "single_column.csv").write_text("name\nalice\nbob\ncarol\n", encoding="utf-8")
    (HERE / "colon_separated.csv").write_text("a:b:c\n1:2:3\n4:5:6\n", encoding="utf-8")
    (HERE / "duplicate_names.csv").write_text("id, age ,age,Age\n1,20,21,22\n2,30,31,32\n", encoding="utf-8")
    lines = TITANIC.read_text(encoding="utf-8").splitlines()[:21]
    lines[7] = lines[7] + ",EXTRA,FIELDS"  # line 8 of the file: two fields too many
    (HERE / "ragged.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (HERE / "unclosed_quote.csv").write_text('a,b\n1,"never closed\n2,x\n', encoding="utf-8")
    (HERE / "titanic.csv.gz").write_bytes(gzip.compress("\n".join(lines[:10]).encode(), mtime=0))
    (HERE / "image.png").write_bytes(_png())
    (HERE / "book.xlsx").write_bytes(_xlsx())
    (HERE / "binary.dat").write_bytes(bytes(range(256)) * 8)


def _png() -> bytes:
    """A valid 2x2 grey PNG, built by hand so no imaging library is needed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _xlsx() -> bytes:
    """The zip skeleton of an .xlsx workbook: what a user gets from "Save as" in a spreadsheet."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"):
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(zi, '<?xml version="1.0" encoding="UTF-8"?><x/>')
    return buf.getvalue()


if __name__ == "__main__":
    write_titanic_variants()
    write_messy()
    write_small_cases()
    for p in sorted(HERE.iterdir()):
        print(f"{p.stat().st_size:>7}  {p.name}")
