"""Generated bad values, one cell at a time, in a small valid world: ``workbook health`` either
works (exit 0 and a health table) or refuses the input (exit 2 and a message naming the table) —
never exit 1, never a traceback."""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbook.cli import main
from workbook.contract import TABLES

csv.field_size_limit(1 << 24)   # generated names can be longer than the csv module's default limit
SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The 30-account sample world, every table as CSV (usage converted from Parquet)."""
    from workbook.sample import write_sample
    out = tmp_path_factory.mktemp("badinput") / "world"
    write_sample(out, accounts=30, seed=3)
    return out


@pytest.fixture(scope="module")
def csv_world(world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("badinput_csv") / "world"
    shutil.copytree(world, out)
    usage = pq.read_table(out / "usage.parquet").to_pandas()
    usage.to_csv(out / "usage.csv", index=False, lineterminator="\n")
    (out / "usage.parquet").unlink()
    return out


def run_health(root: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["health", "--data", str(root), "--format", "csv"])
    return code, out.getvalue(), err.getvalue()


def check(code: int, out: str, err: str, table: str) -> None:
    assert "Traceback" not in out + err
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("workbook: bad input:") and table in err, err
    else:
        rows = list(csv.DictReader(io.StringIO(out, newline="")))
        assert rows and all(r["colour"] in ("red", "amber", "green") for r in rows)
        assert all(0 <= float(r["score"]) <= 100 for r in rows)


@contextlib.contextmanager
def mutated(path: Path):
    """Yield ``path``; put its original bytes back afterwards."""
    original = path.read_bytes()
    try:
        yield path
    finally:
        path.write_bytes(original)


# ---------------------------------------------------------------------------- bad values per kind
def _date_text(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


DATES = st.one_of(
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(1899, 12, 31)).map(_date_text),
    st.dates(min_value=dt.date(2200, 1, 1), max_value=dt.date(9999, 12, 31)).map(_date_text),
    st.sampled_from(["9999-12-31", "9000-01-01", "8999-12-31", "1677-09-21", "2262-04-12", "0000-01-01",
                     "2026-02-30", "2026-13-01", "20261115", "2026-W46-7", "9999-12-31T23:59:59",
                     "+12026-01-01", "-2026-01-01", "2026-11-15 25:00"]),
)
WHOLE = st.one_of(
    st.integers(min_value=-(2 ** 80), max_value=2 ** 80).map(str),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "-9223372036854775809",
                     "18446744073709551616", "1e400", "NaN", "inf", "-inf", "1.5", "1e18", "0x10", "٣"]),
)
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "-1e400", "NaN", "nan", "Infinity", "-inf", "1e308", "4.9e-324", "1,5", "1_000"]),
)
BOOLS = st.sampled_from(["TRUE", "Yes", "2", "-1", "t", "nan", "\x00", "真"])
CONTROL = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1f), min_size=1, max_size=5)
TEXT = st.one_of(
    st.text(max_size=40),
    CONTROL.map(lambda c: "Acme" + c + "Corp"),
    st.integers(min_value=100_000, max_value=400_000).map(lambda n: "x" * n),
    st.sampled_from(["=cmd|' /C calc'!A0", "+1", "@SUM(A1)", "\u202eevil", "\ufeff", "é" * 10, "\r", '"']),
)
BY_KIND = {"date": DATES, "int": WHOLE, "float": NUMBER, "bool": BOOLS, "str": TEXT}
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "cp1252", "latin-1", "utf-16"])


@st.composite
def csv_cell(draw, tables: tuple[str, ...]):
    table = draw(st.sampled_from(tables))
    column = draw(st.sampled_from([c for c in TABLES[table].columns]))
    any_kind = draw(st.booleans()) and draw(st.booleans())   # now and then a value of another kind
    kind = draw(st.sampled_from(list(BY_KIND))) if any_kind else column.kind
    value = draw(BY_KIND[kind])
    return table, column.name, draw(st.integers(min_value=0, max_value=20)), value, draw(ENCODINGS)


def write_cell(path: Path, column: str, row: int, value: str, encoding: str) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    if column not in header:             # an optional column the sample does not write
        header.append(column)
        for r in rows[1:]:
            r.append("")
    rows[1 + row % (len(rows) - 1)][header.index(column)] = value
    buf = io.StringIO(newline="")
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))


CSV_TABLES = ("accounts", "milestones", "usage", "contacts", "surveys", "touchpoints", "tickets", "outcomes",
              "readiness", "time_entries", "advocacy", "overrides", "contracts")


@settings(max_examples=40, **SETTINGS)
@given(cell=csv_cell(CSV_TABLES))
def test_a_bad_csv_cell_is_exit_0_or_2_never_a_crash(csv_world, cell):
    table, column, row, value, encoding = cell
    path = csv_world / f"{table}.csv"
    with mutated(path):
        write_cell(path, column, row, value, encoding)
        code, out, err = run_health(csv_world)
    check(code, out, err, table)


# ---------------------------------------------------------------------------- typed Parquet values
PARQUET_VALUES = {
    "date": st.one_of(
        st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(lambda d: pa.scalar(d, pa.date32())),
        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
        .map(lambda d: pa.scalar(d, pa.timestamp("us")))),
    "active_users": st.one_of(
        st.integers(min_value=0, max_value=2 ** 64 - 1).map(lambda n: pa.scalar(n, pa.uint64())),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda x: pa.scalar(x, pa.float64()))),
    "actions": st.one_of(
        st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1).map(lambda n: pa.scalar(n, pa.int64())),
        st.integers(min_value=2 ** 63, max_value=2 ** 64 - 1).map(lambda n: pa.scalar(n, pa.uint64())),
        st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10 ** 30, max_value=10 ** 30)
        .map(lambda d: pa.scalar(d, pa.decimal128(34, 2)))),
    "module": st.one_of(TEXT, CONTROL).map(lambda s: pa.scalar(s, pa.string())),
}


@settings(max_examples=15, **SETTINGS)
@given(column=st.sampled_from(sorted(PARQUET_VALUES)), data=st.data())
def test_a_bad_parquet_value_is_exit_0_or_2_never_a_crash(world, column, data):
    value = data.draw(PARQUET_VALUES[column])
    path = world / "usage.parquet"
    with mutated(path):
        t = pq.read_table(path)
        values = t.column(column).cast(value.type).to_pylist()
        values[data.draw(st.integers(min_value=0, max_value=len(values) - 1))] = value.as_py()
        t = t.set_column(t.schema.get_field_index(column), column, pa.array(values, value.type))
        pq.write_table(t, path)
        code, out, err = run_health(world)
    check(code, out, err, "usage")
