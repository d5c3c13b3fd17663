"""Column-level type detection and conversion for `tools.intake`.

One rule for every text column, used both when a training file is read (`type_text`) and when a new
batch is coerced to the training schema (`parse_numbers`, `to_boolean`, `parse_dates`):

1. strip surrounding whitespace; `NA_TOKENS` become missing;
2. booleans: the non-missing values are exactly the two tokens of one pair in `BOOL_PAIRS`
   (case-insensitive) -> pandas "boolean", keeping the original spellings;
3. numbers stored as text: after removing surrounding quotes, currency symbols, percent signs and
   well-formed thousands separators, at least `NUMERIC_SHARE` of the values parse -> int64 (no
   missing, all integers) or float64; the rest become missing and are counted in a note;
4. dates: at least `DATE_SHARE` of the values parse with one format from a fixed list -> datetime64[ns]
   (time-zone offsets converted to UTC, then dropped);
5. anything else stays text (pandas "str").

Detection looks at a sample of the values; conversion and the final share check run vectorised on the
whole column, so a value that only appears late in the file cannot slip through unnoticed.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tools.sniff import NA_TOKENS

BOOL_PAIRS: tuple[tuple[str, str], ...] = (("yes", "no"), ("y", "n"), ("true", "false"), ("t", "f"))
NUMERIC_SHARE = 0.98
DATE_SHARE = 0.95
SAMPLE_SIZE = 2000

# (date regex, formats it may be). Each needs separators and a four-digit year, so a plain number
# such as 20190323 or 3.14 can never be read as a date.
_DATE_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\d{4}-\d{1,2}-\d{1,2}", ("%Y-%m-%d",)),
    (r"\d{4}/\d{1,2}/\d{1,2}", ("%Y/%m/%d",)),
    (r"\d{1,2}/\d{1,2}/\d{4}", ("%d/%m/%Y", "%m/%d/%Y")),
    (r"\d{1,2}\.\d{1,2}\.\d{4}", ("%d.%m.%Y",)),
    (r"\d{1,2}-\d{1,2}-\d{4}", ("%d-%m-%Y", "%m-%d-%Y")),
)
_TIME_TZ = r"(?:(?P<sep>[ T])\d{1,2}:\d{2}(?P<sec>:\d{2})?(?P<frac>\.\d+)?)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
_FORMAT_IN = re.compile(r"\((?P<fmt>[^()]*%[^()]*)\)")
_TS_MIN, _TS_MAX = pd.Timestamp.min, pd.Timestamp.max


class Typed(NamedTuple):
    """A converted column and how it was read (the fields of a ColumnSpec, minus name and dtype)."""

    values: pd.Series
    kind: str
    parsed_from: str
    true_token: str | None = None
    false_token: str | None = None
    notes: tuple[str, ...] = ()


def clean_text(s: pd.Series) -> pd.Series:
    """Strip surrounding whitespace and turn NA tokens into missing values; keeps the "str" dtype."""
    s = s.astype("str").str.strip()
    return s.where(~s.isin(NA_TOKENS))


def sample_of(nonnull: pd.Series, size: int = SAMPLE_SIZE) -> pd.Series:
    """The first values and an even spread over the rest, so late surprises have a chance to show."""
    if len(nonnull) <= size:
        return nonnull
    head = size // 4
    spread = np.linspace(head, len(nonnull) - 1, size - head).astype(np.int64)
    return nonnull.iloc[np.concatenate([np.arange(head), spread])]


def examples(values: pd.Series, k: int = 2) -> str:
    """Up to `k` distinct values, quoted, for a note: "'abc', 'n.a.'" (numpy scalars shown as plain numbers)."""
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in pd.unique(values.to_numpy())[:k])


def type_text(name: str, raw: pd.Series, *, decimal: str) -> Typed:
    """Detect and convert one text column (see the module docstring for the rule)."""
    s = clean_text(raw)
    nonnull = s.dropna()
    if nonnull.empty:
        return Typed(pd.Series(np.nan, index=s.index, dtype="float64"), "numeric", "all missing",
                     notes=(f"column '{name}': every value is missing",))
    sample = sample_of(nonnull)
    for typer in (_try_boolean, _try_numeric, _try_dates):
        typed = typer(name, s, nonnull, sample, decimal)
        if typed is not None:
            return typed
    return Typed(s, "string", "as read")


# ---- booleans ---------------------------------------------------------------------------------------

def _try_boolean(name: str, s: pd.Series, nonnull: pd.Series, sample: pd.Series, decimal: str) -> Typed | None:
    seen = set(sample.str.lower().unique())
    pair = next((p for p in BOOL_PAIRS if seen <= set(p)), None)
    if pair is None:
        return None
    counts = nonnull.value_counts()  # few distinct values: cheaper than lower-casing the column
    spellings = counts.index.str.lower()
    if set(spellings) != set(pair):
        return None  # one token only, or a third value somewhere: not a clean boolean
    # Keep the commonest original spelling of each token, to map predictions back to labels.
    trues, falses = counts.index[spellings == pair[0]], counts.index[spellings == pair[1]]
    true_token, false_token = str(trues[0]), str(falses[0])
    is_true = s.isin(list(trues)).to_numpy(dtype=bool)
    values = pd.Series(pd.arrays.BooleanArray(is_true, s.isna().to_numpy(dtype=bool)), index=s.index)
    note = f"column '{name}': {true_token!r}/{false_token!r} read as booleans ({true_token!r} = True)"
    return Typed(values, "boolean", f"{pair[0]}/{pair[1]} tokens", true_token, false_token, (note,))


def to_boolean(s: pd.Series, true_token: str | None, false_token: str | None) -> pd.Series:
    """Map text to nullable booleans: the given tokens (case-insensitive) and, as a fallback, the usual
    true/false and 1/0 spellings; anything else becomes missing."""
    text = s.astype("str").str.strip()
    trues = {"true", "1"} | ({true_token.lower()} if true_token else set())
    falses = {"false", "0"} | ({false_token.lower()} if false_token else set())
    # Map the few distinct spellings, then use isin on the column: much faster than lower() on it.
    spellings = [str(v) for v in text.dropna().unique()]
    is_true = text.isin([v for v in spellings if v.lower() in trues]).to_numpy(dtype=bool)
    is_false = text.isin([v for v in spellings if v.lower() in falses]).to_numpy(dtype=bool)
    return pd.Series(pd.arrays.BooleanArray(is_true, ~(is_true | is_false)), index=s.index)


# ---- numbers ----------------------------------------------------------------------------------------

_PLAIN_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# Trimmed from both ends of a value: quotes (mammography's '-1'), currency, percent, whitespace.
_TRIM = "'\"$€£¥% \t\u00a0"


def _try_numeric(name: str, s: pd.Series, nonnull: pd.Series, sample: pd.Series, decimal: str) -> Typed | None:
    if sample.str.contains(r"\d").mean() < NUMERIC_SHARE:
        return None  # cheap early exit for ordinary text
    if parse_numbers(sample, decimal=decimal)[0].notna().mean() < NUMERIC_SHARE:
        return None
    values, used = parse_numbers(s, decimal=decimal)
    bad = s.notna() & values.isna()
    if 1 - bad.sum() / len(nonnull) < NUMERIC_SHARE:
        return None
    # Show a value that was read but needed cleaning, if any, so the note says what was done.
    plain = sample.str.fullmatch(_PLAIN_NUMBER).to_numpy(dtype=bool)
    read = values[sample.index].notna().to_numpy(dtype=bool)
    example = sample[read & ~plain].iloc[0] if (read & ~plain).any() else sample[read].iloc[0]
    comma = used == ","
    note = f"column '{name}': numbers stored as text ({example!r}) converted" + (" with decimal comma" if comma else "")
    if bad.any():
        note += f"; {int(bad.sum())} value(s) that are not numbers ({examples(s[bad])}) became missing"
    parsed_from = "numbers stored as text" + (", decimal comma" if comma else "")
    return Typed(values, "numeric", parsed_from, notes=(note,))


def parse_numbers(s: pd.Series, *, decimal: str = ".") -> tuple[pd.Series, str]:
    """Parse text as numbers, vectorised; values that do not parse become NaN.

    Removes surrounding quotes, currency symbols ($ € £ ¥) and percent signs (the number is kept as
    written: "12%" -> 12), and thousands separators only where they form proper groups of three digits
    ("1,234,567.5"; also space or apostrophe groups). `decimal` is tried first, the other mark only if
    it reads more values. Returns (int64 or float64 series, decimal mark used).
    """
    t = s.astype("str").str.strip(_TRIM)
    target = int(t.notna().sum())
    best: tuple[int, pd.Series, str] | None = None
    for dec in (decimal, "," if decimal == "." else "."):
        nums = _to_number(_ungroup(t, dec))
        ok = int(nums.notna().sum())
        if best is None or ok > best[0]:
            best = (ok, nums, dec)
        if ok == target:
            break
    assert best is not None
    ok, nums, dec = best
    if ok < target:
        # Second chance, on the failed rows only: a symbol inside the value, as in "-$5" or "- 5".
        failed = (t.notna() & nums.isna()).to_numpy(dtype=bool)
        retry = t[failed].str.replace(r"[$€£¥\s]", "", regex=True)
        again = _to_number(_ungroup(retry, dec))
        if again.notna().any():
            nums = nums.astype("float64")
            nums[failed] = again.astype("float64")
            nums = numeric_dtype(nums)
    return nums, dec


def _ungroup(t: pd.Series, dec: str) -> pd.Series:
    """Drop thousands separators where they form proper groups, and make the decimal mark a dot."""
    sep = "," if dec == "." else "."
    group = "[" + re.escape(sep) + " \u00a0\u202f']"
    if t.str.contains(sep, regex=False).any() or t.str.contains("[ \u00a0\u202f']", regex=True).any():
        grouped = t.str.fullmatch(rf"[-+]?\d{{1,3}}(?:{group}\d{{3}})+(?:{re.escape(dec)}\d*)?")
        grouped = grouped.fillna(False).to_numpy(dtype=bool)
        if grouped.any():
            t = t.copy()
            t[grouped] = t[grouped].str.replace(group, "", regex=True)
    return t.str.replace(",", ".", regex=False) if dec == "," else t


def _to_number(u: pd.Series) -> pd.Series:
    """Text -> int64 (all whole, none missing) or float64, through Arrow's parser: an order of magnitude
    faster than pd.to_numeric on a million strings. Arrow's cast fails on the first bad value, so the
    clean case costs one pass and a column with bad values gets a regex pass to null them first."""
    arr = pa.array(u)
    for typ in (pa.int64(), pa.float64()):
        try:
            parsed = pc.cast(arr, typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return numeric_dtype(pd.Series(parsed.to_numpy(zero_copy_only=False), index=u.index))
    valid = u.str.fullmatch(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
    try:
        floats = pc.cast(pa.array(u.where(valid)), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a spelling the regex allows but Arrow does not
        return pd.to_numeric(u.where(valid), errors="coerce").astype("float64")
    return pd.Series(floats, index=u.index, dtype="float64")


def numeric_dtype(values: pd.Series) -> pd.Series:
    """int64 when every value is present and whole, else float64 (the contract's two numeric dtypes)."""
    if values.dtype == "int64":
        return values
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        big = values.dtype.kind == "u" and len(values) and values.max() > np.iinfo(np.int64).max
        return values.astype("float64" if big else "int64")
    return values.astype("float64")


# ---- dates ------------------------------------------------------------------------------------------

def _try_dates(name: str, s: pd.Series, nonnull: pd.Series, sample: pd.Series, decimal: str) -> Typed | None:
    found = date_format(sample)
    if found is None:
        return None
    formats, has_tz = found
    # Several formats only for day/month ambiguity: the one reading more values wins, the first on a tie.
    tried = [(int(v.notna().sum()), -i, v, f) for i, f in enumerate(formats) for v in [parse_dates(s, f, utc=has_tz)]]
    ok, _, values, fmt = max(tried, key=lambda x: x[:2])
    if ok / len(nonnull) < DATE_SHARE:
        return None
    note = f"column '{name}': read as dates with format {fmt}"
    ties = [f for n, _, _, f in tried if n == ok and f != fmt]
    if ties:
        note += f" (ambiguous: {ties[0]} reads as many values; pass the data with unambiguous dates if that is wrong)"
    if has_tz:
        note += "; time-zone offsets converted to UTC and dropped"
    bad = s.notna() & values.isna()
    if bad.any():
        note += f"; {int(bad.sum())} value(s) that are not dates ({examples(s[bad])}) became missing"
    return Typed(values, "datetime", f"dates ({fmt})" + (", converted to UTC" if has_tz else ""), notes=(note,))


def date_format(sample: pd.Series) -> tuple[tuple[str, ...], bool] | None:
    """Candidate formats shared by at least `DATE_SHARE` of the sample, and whether values carry a zone."""
    if sample.str.match(r"\d").mean() < DATE_SHARE:
        return None  # every shape starts with a digit: a cheap early exit for ordinary text
    for date_re, date_fmts in _DATE_SHAPES:
        matched = sample.str.fullmatch(f"{date_re}{_TIME_TZ}").fillna(False).to_numpy(dtype=bool)
        if matched.sum() < DATE_SHARE * len(sample):
            continue
        parts = sample[matched].str.extract(f"^{date_re}{_TIME_TZ}$")
        has_tz = bool(parts["tz"].notna().any())
        shape = pd.DataFrame({"sep": parts["sep"].fillna(""), "sec": parts["sec"].notna(), "frac": parts["frac"].notna()})
        top = shape.value_counts()
        if top.iloc[0] < DATE_SHARE * len(sample):
            # Mixed precision ("2020-01-01" next to "2020-01-01 10:00"): only ISO 8601 reads them all.
            return (("ISO8601",), has_tz) if date_fmts == ("%Y-%m-%d",) else None
        sep, sec, frac = top.index[0]
        time_fmt = f"{sep}%H:%M" + (":%S" if sec else "") + (".%f" if frac else "") if sep else ""
        return tuple(f + time_fmt + ("%z" if has_tz else "") for f in date_fmts), has_tz
    return None


def parse_dates(s: pd.Series, fmt: str, *, utc: bool) -> pd.Series:
    """Parse text with one format into naive datetime64[ns] (UTC when the values carry offsets);
    values that do not parse or fall outside the datetime64[ns] range become NaT."""
    if "%f" not in fmt and fmt != "ISO8601":  # Arrow's strptime knows neither; pandas does
        try:
            # About 3x faster than pd.to_datetime; "us" then a range check, so year 9999 is NaT, not an error.
            parsed = pc.strptime(pa.array(s.astype("str")), format=fmt, unit="us", error_is_null=True)
            values = pd.Series(parsed.to_numpy(zero_copy_only=False), index=s.index)
            return to_naive_ns(values)
        except (pa.ArrowException, ValueError):
            pass
    values = pd.to_datetime(s, format=fmt, errors="coerce", utc=utc)
    return to_naive_ns(values)


def to_naive_ns(values: pd.Series) -> pd.Series:
    """Any datetime series -> naive datetime64[ns] (zones converted to UTC first); values outside the
    datetime64[ns] range (years before 1677 or after 2262) become NaT."""
    if getattr(values.dtype, "tz", None) is not None:
        values = values.dt.tz_convert(None)
    if values.dtype == "datetime64[ns]":
        return values
    lo, hi = values.min(), values.max()  # two reductions instead of two full comparisons
    if (pd.notna(lo) and lo < _TS_MIN) or (pd.notna(hi) and hi > _TS_MAX):
        values = values.where((values >= _TS_MIN) & (values <= _TS_MAX))
    return values.astype("datetime64[ns]")


def format_of(parsed_from: str) -> str | None:
    """The strptime format recorded in a ColumnSpec's parsed_from, e.g. "dates (%Y-%m-%d)"."""
    m = _FORMAT_IN.search(parsed_from) or (re.search(r"\((?P<fmt>ISO8601)\)", parsed_from))
    return m.group("fmt") if m else None


# ---- columns that already have a type (parquet, or what the CSV parser inferred) -------------------

def type_native(name: str, s: pd.Series, *, decimal: str = ".") -> Typed:
    """Normalise a column that is not plain text to the contract's dtypes; text goes to `type_text`."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return type_native(name, s.astype(dtype.categories.dtype), decimal=decimal)
    if pd.api.types.is_bool_dtype(dtype):
        return Typed(s.astype("boolean"), "boolean", "as read")
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return Typed(numeric_dtype(s), "numeric", "as read")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        has_tz = getattr(dtype, "tz", None) is not None
        notes = (f"column '{name}': time zone {dtype.tz} converted to UTC and dropped",) if has_tz else ()
        return Typed(to_naive_ns(s), "datetime", "as read" + (", converted to UTC" if has_tz else ""), notes=notes)
    if pd.api.types.is_timedelta64_dtype(dtype):
        note = f"column '{name}': durations converted to seconds"
        return Typed(s.dt.total_seconds().astype("float64"), "numeric", "durations in seconds", notes=(note,))
    if pd.api.types.is_string_dtype(dtype) and dtype != object:
        return type_text(name, s, decimal=decimal)
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred == "boolean":
        return Typed(s.astype("boolean"), "boolean", "as read")
    if inferred in ("date", "datetime", "datetime64"):
        return Typed(to_naive_ns(pd.to_datetime(s, errors="coerce", utc=True)), "datetime", "as read")
    if inferred in ("decimal", "integer", "floating", "mixed-integer-float"):
        return Typed(numeric_dtype(pd.to_numeric(s, errors="coerce")), "numeric", "as read")
    if inferred == "empty":
        return Typed(pd.Series(np.nan, index=s.index, dtype="float64"), "numeric", "all missing")
    typed = type_text(name, s.astype("str"), decimal=decimal)
    if inferred != "string" and typed.kind == "string":
        typed = typed._replace(notes=(*typed.notes, f"column '{name}': values of type {inferred} read as text"))
    return typed


# ---- conversions between kinds, for conform --------------------------------------------------------

def kind_of(s: pd.Series) -> str:
    """The contract kind a series' dtype stands for; anything not numeric, boolean or datetime is text."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    return "string"


def to_text(s: pd.Series, true_token: str | None = None, false_token: str | None = None, *, fmt: str | None = None) -> pd.Series:
    """Back to text, spelled as in a file: 3.0 -> "3", True -> `true_token`, dates with `fmt`."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.map({True: true_token or "True", False: false_token or "False"}).astype("str")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        fmt = "%Y-%m-%d %H:%M:%S" if fmt in (None, "ISO8601") else fmt
        return s.dt.strftime(fmt.replace("%z", "")).astype("str")
    text = s.astype("str")
    if pd.api.types.is_float_dtype(s.dtype):
        whole = s.notna() & np.isfinite(s) & (s == np.floor(s))
        if whole.any():
            text = text.mask(whole, s[whole].astype("int64").astype("str"))
    return text
