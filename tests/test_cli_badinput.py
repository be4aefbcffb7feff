"""Bad input through the installed ``workbook`` command: exit 2 with a message that names the
table, column and rule — never exit 1, never a traceback — and CSV output that is safe to open
in a spreadsheet."""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

EXE = Path(sys.executable).with_name("workbook")
REPO = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict | None = None) -> tuple[int, str, str]:
    """Run the installed command; stdout is decoded without newline translation (a bare CR stays)."""
    proc = subprocess.run([str(EXE), *args], capture_output=True, cwd=REPO,
                          env={**os.environ, "WORKBOOK_DEBUG": "", **(env or {})})
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert "Traceback" not in out + err
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from workbook.sample import write_sample
    out = tmp_path_factory.mktemp("cli_bad") / "world"
    write_sample(out, accounts=30, seed=3)
    return out


@pytest.fixture
def copy(world, tmp_path):
    def make(name: str = "w") -> Path:
        dst = tmp_path / name
        shutil.copytree(world, dst)
        return dst
    return make


def set_cell(path: Path, column: str, row: int, value: str) -> None:
    """Rewrite one cell of a CSV table (row 0 = first data row), quoting every field."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[row, column] = value
    df.to_csv(path, index=False, quoting=csv.QUOTE_ALL, lineterminator="\n")


# ---------------------------------------------------------------------------- numbers out of range
def test_uint64_actions_above_int64_is_out_of_range(copy):
    root = copy()
    t = pq.read_table(root / "usage.parquet")
    actions = t.column("actions").to_pylist()
    actions[0] = 2 ** 63 + 5
    t = t.set_column(t.schema.get_field_index("actions"), "actions", pa.array(actions, pa.uint64()))
    pq.write_table(t, root / "usage.parquet")
    code, out, err = run("health", "--data", str(root))
    assert code == 2
    assert "usage.actions" in err and "out of range" in err and "(1 row" in err


def test_whole_number_too_large_for_64_bits_in_csv(copy):
    root = copy()
    set_cell(root / "accounts.csv", "contracted_modules", 3, "99999999999999999999")
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "accounts.contracted_modules" in err and "out of range" in err


@pytest.mark.parametrize("value", ["inf", "-Infinity", "NaN", "1e400"])
def test_non_finite_arr_is_refused_as_not_finite(copy, value):
    root = copy()
    set_cell(root / "accounts.csv", "arr", 0, value)
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "accounts.arr" in err and "must be a finite number" in err


def test_non_finite_number_in_a_parquet_float_column(copy):
    root = copy()
    acc = pd.read_csv(root / "accounts.csv", dtype={"arr": "float64"})
    acc.loc[2, "arr"] = float("inf")
    acc.to_parquet(root / "accounts.parquet", index=False)
    (root / "accounts.csv").unlink()
    code, out, err = run("validate", "--data", str(root))
    assert code == 2 and "accounts" in out and "arr" in out and "finite number" in out


# ---------------------------------------------------------------------------- dates
def test_far_future_left_at_is_read_as_open_ended_with_a_warning(copy):
    root = copy()
    contacts = pd.read_csv(root / "contacts.csv", dtype=str, keep_default_na=False)
    row = int(contacts.index[contacts["left_at"] != ""][0])
    set_cell(root / "contacts.csv", "left_at", row, "9999-12-31")
    code, out, err = run("validate", "--data", str(root))
    assert code == 0
    line = next(s for s in out.splitlines() if "left_at" in s)
    assert "warning" in line and "contacts" in line and "read as empty" in line
    code, out, err = run("health", "--data", str(root), "--format", "csv")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) > 0


def test_far_future_date_in_an_ordinary_column_is_an_error(copy):
    root = copy()
    set_cell(root / "outcomes.csv", "due_at", 0, "9999-12-31")
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "outcomes.due_at" in err and "1900-01-01 and 2199-12-31" in err


def test_end_date_beyond_range_but_before_the_placeholder_range_is_an_error(copy):
    root = copy()
    set_cell(root / "contacts.csv", "left_at", 0, "5000-01-01")
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "contacts.left_at" in err and "must lie between" in err


def test_date_before_1900_in_parquet_is_an_error(copy):
    root = copy()
    t = pq.read_table(root / "usage.parquet")
    dates = t.column("date").to_pylist()
    dates[0] = pd.Timestamp("1500-01-01").date()
    t = t.set_column(t.schema.get_field_index("date"), "date", pa.array(dates, pa.date32()))
    pq.write_table(t, root / "usage.parquet")
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "usage.date" in err and "must lie between" in err


@pytest.mark.parametrize("as_of, words", [
    ("0001-01-01", "out of range"), ("9999-12-31", "out of range"),
    ("20261115", "YYYY-MM-DD"), ("2026-W46-7", "YYYY-MM-DD"), ("2026-11-15T00:00", "YYYY-MM-DD"),
    ("2026-02-30", "not a calendar day"),
])
def test_as_of_must_be_exactly_an_iso_day_in_range(world, as_of, words):
    code, out, err = run("health", "--data", str(world), "--as-of", as_of)
    assert code == 2 and "--as-of" in err and words in err


def test_horizon_days_is_bounded(world, tmp_path):
    code, out, err = run("calibrate", "--data", str(world), "--horizon-days", "100000000",
                         "--out", str(tmp_path / "cal"))
    assert code == 2 and "--horizon-days" in err and "1..3650" in err
    assert not (tmp_path / "cal").exists()


# ---------------------------------------------------------------------------- files
def test_repeated_column_name_is_refused(copy):
    root = copy()
    text = (root / "accounts.csv").read_text().splitlines()
    text[0] = text[0].replace(",scenario", ",NAME")          # letter case does not make it another column
    (root / "accounts.csv").write_text("\n".join(text) + "\n")
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "accounts.name" in err and "appears 2 times" in err


def test_cp1252_file_is_named_not_utf8_with_its_line(copy):
    root = copy()
    acc = (root / "accounts.csv").read_text(encoding="utf-8").splitlines()
    acc[3] = acc[3].replace(",", ",Café ", 1)
    (root / "accounts.csv").write_bytes(("\n".join(acc) + "\n").encode("cp1252"))
    code, out, err = run("health", "--data", str(root))
    assert code == 2
    assert "accounts.csv is not UTF-8 (line 4" in err and "0xE9" in err and "binary" not in err


def test_cp1252_byte_beyond_the_first_block_is_also_named(copy):
    root = copy()
    path = root / "time_entries.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace(lines[-1].split(",")[0], "Zoë Petit")
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    assert path.stat().st_size > 65536
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "time_entries.csv is not UTF-8" in err


def test_line_over_the_csv_line_limit_names_the_limit_and_the_workaround(copy):
    root = copy()
    set_cell(root / "surveys.csv", "comment", 0, "x" * 3_000_000)
    code, out, err = run("health", "--data", str(root))
    assert code == 2 and "surveys" in err
    assert "max_line_size" in err and "2,000,000 bytes" in err and "WORKBOOK_CSV_MAX_LINE_SIZE" in err
    code, out, err = run("health", "--data", str(root), env={"WORKBOOK_CSV_MAX_LINE_SIZE": "8000000"})
    assert code == 0, err
    code, out, err = run("health", "--data", str(root), env={"WORKBOOK_CSV_MAX_LINE_SIZE": "lots"})
    assert code == 2 and "WORKBOOK_CSV_MAX_LINE_SIZE" in err


# ---------------------------------------------------------------------------- parameters
def test_playbook_template_with_an_unknown_field_is_refused(world, tmp_path):
    params = tmp_path / "params"
    shutil.copytree(REPO / "params", params)
    book = params / "playbooks.yaml"
    book.write_text(book.read_text().replace("{outreach}.", "{bogus}."))
    code, out, err = run("health", "--data", str(world), env={"WORKBOOK_PARAMS": str(params)})
    assert code == 2
    assert "playbooks.yaml" in err and "amber.recommended_action" in err and "{bogus}" in err


# ---------------------------------------------------------------------------- empty world
def test_health_on_a_day_with_no_live_accounts_says_so(world):
    code, out, err = run("health", "--data", str(world), "--as-of", "2000-01-01")
    assert code == 0
    assert "no live accounts on 2000-01-01" in out and "Empty DataFrame" not in out
    code, out, err = run("health", "--data", str(world), "--as-of", "2000-01-01", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("account_id,name,") and len(out.splitlines()) == 1


# ---------------------------------------------------------------------------- safe CSV
def test_health_csv_neutralises_formulas_and_quotes_carriage_returns(copy):
    root = copy()
    names = {0: "=HYPERLINK(\"http://x\",\"y\")", 1: "+1+2", 2: "@SUM(A1)", 3: "\tTabbed", 4: "-3",
             5: "Acme\rEvil Corp"}
    acc = pd.read_csv(root / "accounts.csv", dtype=str, keep_default_na=False)
    for row, name in names.items():
        acc.loc[row, "name"] = name
    acc.to_csv(root / "accounts.csv", index=False, quoting=csv.QUOTE_ALL, lineterminator="\n")
    wanted = {acc.loc[row, "account_id"]: name for row, name in names.items()}

    code, out, err = run("health", "--data", str(root), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(out.splitlines()) > 1 and all(r["account_id"].startswith("A") for r in rows)  # no split record
    got = {r["account_id"]: r["name"] for r in rows if r["account_id"] in wanted}
    assert got  # the accounts are live in the sample world
    for account, name in got.items():
        original = wanted[account]
        assert name == ("'" + original if original[0] in "=+-@\t" else original)
    # numbers stay numbers: a negative change is not prefixed
    changes = [r["change_7d"] for r in rows if r["change_7d"]]
    assert any(c.startswith("-") for c in changes) and all(float(c) == float(c) for c in changes)

    code, raw, err = run("health", "--data", str(root), "--format", "csv", "--raw")
    assert code == 0
    raw_rows = {r["account_id"]: r["name"] for r in csv.DictReader(io.StringIO(raw, newline=""))}
    assert all(raw_rows[a] == wanted[a] for a in got)


def test_kpis_csv_keeps_negative_numbers_and_takes_raw(world):
    code, out, err = run("kpis", "--data", str(world), "--format", "csv")
    assert code == 0
    code, raw, err = run("kpis", "--data", str(world), "--format", "csv", "--raw")
    assert code == 0 and raw == out       # no formula-like text in the KPI table itself
    df = pd.read_csv(io.StringIO(out))
    assert pd.api.types.is_numeric_dtype(df["value"]) and "'" not in out


# ---------------------------------------------------------------------------- DuckDB sources
def _db_world(world: Path, db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(db))
    for name in ("accounts", "milestones", "contacts"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{world / (name + '.csv')}', all_varchar=true)")
    con.execute(f"CREATE TABLE usage AS SELECT * FROM read_parquet('{world / 'usage.parquet'}')")
    return con


def test_duckdb_source_never_runs_a_view_that_reads_a_local_file(world, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731")
    db = tmp_path / "world.duckdb"
    con = _db_world(world, db)
    con.execute("DROP TABLE contacts")
    con.execute(f"CREATE VIEW contacts AS SELECT content AS contact_id, 'A00001' AS account_id, "
                f"'champion' AS role, content AS name FROM read_text('{secret}')")
    con.close()
    code, out, err = run("health", "--data", str(db), "--format", "csv")
    assert "TOP-SECRET-7731" not in out + err
    assert code == 2 and "contacts" in err and "views are not read" in err


def test_duckdb_source_ignores_other_views_and_reads_its_tables(world, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731")
    db = tmp_path / "world.duckdb"
    con = _db_world(world, db)
    con.execute(f"CREATE VIEW leak AS SELECT content FROM read_text('{secret}')")
    con.close()
    code, out, err = run("health", "--data", str(db), "--format", "csv")
    assert code == 0 and "TOP-SECRET-7731" not in out + err
    assert len(pd.read_csv(io.StringIO(out))) > 0


# ---------------------------------------------------------------------------- the strict day parser
def test_parse_day_accepts_exactly_iso_days_in_range():
    import datetime as dt

    from workbook.errors import BadInput
    from workbook.periods import parse_day, to_day
    assert parse_day(" 2026-11-15 ") == pd.Timestamp("2026-11-15")
    assert parse_day(dt.date(1900, 1, 1)) == pd.Timestamp("1900-01-01")
    assert parse_day(pd.Timestamp("2199-12-31 17:45")) == pd.Timestamp("2199-12-31")
    for bad in ("20261115", "2026-W46-7", "2026-11-15T00:00", "2026-1-5", "1899-12-31", "2200-01-01", None, 20261115):
        with pytest.raises(BadInput) as info:
            parse_day(bad, "--from")
        assert (info.value.table, info.value.column) == ("--from", None)    # an option names itself
        assert str(info.value).startswith("--from: ")
    with pytest.raises(BadInput, match="out of range"):
        to_day("9999-12-31")
