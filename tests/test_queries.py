"""The query builders of workbook.queries: quoting, the generated contract checks on DuckDB, and
their Spark spelling (transpiled by sqlglot; no JVM needed here)."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import sqlglot

from workbook import queries
from workbook.contract import TABLES, Column, Table
from workbook.spark import to_spark_sql

USAGE = TABLES["usage"]
RAW_TEXT = {c.name: "VARCHAR" for c in USAGE.columns}


def test_identifiers_are_quoted_and_cannot_break_out():
    assert queries.ident("account_id") == '"account_id"'
    assert queries.ident('a"b') == '"a""b"'
    hostile = 'x" FROM usage; DROP TABLE accounts; --'
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({queries.ident(hostile)} INTEGER, y INTEGER)")
    con.execute("INSERT INTO t VALUES (1, 2)")
    # one column, whatever its name: the statement selects it and nothing else runs
    assert con.execute(queries.select_columns("t", [hostile])).fetchall() == [(1,)]
    assert [r[0] for r in con.execute(queries.describe("t")).fetchall()] == [hostile, "y"]
    con.execute(queries.create("TABLE", 'odd "name"', queries.select_all("t")))
    assert con.execute(queries.count_rows('odd "name"')).fetchone() == (1,)


def test_literals_are_quoted():
    assert queries.literal("O'Brien") == "'O''Brien'"
    assert queries.literal(pd.Timestamp("2026-03-01")) == "DATE '2026-03-01'"
    assert queries.duckdb_settings(memory_limit="1GB'; SET threads = 1; --", threads=2, flag=False) == [
        "SET memory_limit = '1GB''; SET threads = 1; --'", "SET threads = 2", "SET flag = false"]
    with pytest.raises(ValueError):
        queries.duckdb_settings(**{"threads = 1; DROP": 1})


def test_dated_rows_and_milestone_dates_take_parameters():
    con = duckdb.connect()
    con.execute("CREATE TABLE milestones AS SELECT * FROM (VALUES ('a', 'activation', DATE '2026-01-02'), "
                "('a', 'activation', DATE '2026-01-01'), ('a', 'handover', DATE '2026-05-01'), "
                "('b', 'kickoff', DATE '2026-01-01')) v(account_id, milestone, reached_at)")
    got = con.execute(queries.milestone_dates(["activation", "handover"]) + " ORDER BY 1",
                      [pd.Timestamp("2026-03-01").date()]).fetchall()
    assert [(r[0], str(r[1]), r[2]) for r in got] == [("a", "2026-01-01", None), ("b", "None", None)]
    rows = con.execute(queries.dated_rows("milestones", "reached_at", ["account_id"]),
                       [pd.Timestamp("2026-01-01").date(), pd.Timestamp("2026-01-01").date()]).fetchall()
    assert sorted(rows) == [("a",), ("b",)]


def _tiny_usage(con) -> None:
    """Six raw usage rows (text, as read from a CSV): each breaks what its comment says."""
    rows = [("a", "2026-03-01", "m", "1", "2"),     # fine
            ("a", "2026-03-01", "m", "1", "3"),     # duplicate of the first (account, date, module)
            ("a", "2026-13-01", "m", "1", "2"),     # not a date
            ("b", "2026-03-02", "m", "-1", "2"),    # active_users < 0
            ("zz", "2026-03-03", "m", "1", " "),    # no such account; actions empty
            ("a", "2026-03-04", "m", "1", "99999999999999999999")]   # out of range
    con.execute("CREATE TABLE raw_usage (account_id VARCHAR, date VARCHAR, module VARCHAR, "
                "active_users VARCHAR, actions VARCHAR)")
    con.executemany("INSERT INTO raw_usage VALUES (?, ?, ?, ?, ?)", rows)
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('a'), ('b')) v(account_id)")


def test_generated_checks_count_the_right_rows_on_duckdb():
    con = duckdb.connect()
    _tiny_usage(con)
    checks = queries.contract_checks(USAGE, RAW_TEXT)
    source = queries.subquery(queries.typed_select(USAGE, "raw_usage", RAW_TEXT, raw=True, extra=False))
    counts = con.execute(queries.check_counts(checks, source, accounts="accounts")).fetchone()
    assert counts[0] == 6 and counts[-1] == 1          # rows; rows whose account is unknown
    broken = {(c.column, c.text): n for c, n in zip(checks, counts[1:-1]) if n}
    assert broken == {
        ("date", "must be an ISO date (YYYY-MM-DD)"): 1,
        ("active_users", "must be >= 0"): 1,
        ("actions", "must not be empty"): 1,
        ("actions", "is out of range: whole numbers must lie within "
                    "-9223372036854775808..9223372036854775807"): 1,
    }
    bad_date = next(c for c in checks if c.text.startswith("must be an ISO date"))
    assert con.execute(queries.examples(queries.example_key(USAGE), source, bad_date.predicate)).fetchall() == [(None,)]
    exprs = queries.typed_columns(USAGE, RAW_TEXT)
    dup = con.execute(queries.duplicates({c: exprs[c] for c in USAGE.unique}, "raw_usage")).fetchall()
    assert [(r[0], str(r[1]), r[2], r[3]) for r in dup] == [("a", "2026-03-01", "m", 2)]
    assert con.execute(queries.unknown_accounts(source, n_examples=3)).fetchall() == [("zz",)]


def test_checks_follow_the_contract():
    """Every column gets its kind's checks and every rule its predicate: nothing hand-written."""
    table = Table("things", (Column("id", "str", True), Column("n", "int"), Column("ends", "date", open_ended=True)),
                  rules=(TABLES["accounts"].rules[0].__class__("n", "must be >= 0", "t.n < 0"),))
    texts = [(c.severity, c.column, c.text.split(":")[0]) for c in
             queries.contract_checks(table, {"id": "VARCHAR", "n": "BIGINT", "ends": "VARCHAR"})]
    assert texts == [("error", "id", "must not be empty"),
                     ("error", "n", "is out of range"), ("error", "n", "must be a whole number"),
                     ("error", "ends", "must lie between 1900-01-01 and 2199-12-31"),
                     ("warning", "ends", "has a far-future date (9000-01-01 or later, e.g. 9999-12-31)"),
                     ("error", "ends", "must be an ISO date (YYYY-MM-DD)"),
                     ("error", "n", "must be >= 0")]
    # a column the source lacks has no checks (the missing column is its own finding)
    assert all(c.column != "ends" for c in queries.contract_checks(table, {"id": "VARCHAR", "n": "BIGINT"}))


def test_checks_transpile_for_spark():
    checks = queries.contract_checks(USAGE, RAW_TEXT)
    source = queries.subquery(queries.typed_select(USAGE, "workbook_raw_usage", RAW_TEXT, raw=True, extra=False))
    exprs = queries.typed_columns(USAGE, RAW_TEXT)
    statements = [queries.check_counts(checks, source, accounts="workbook_accounts"),
                  queries.duplicates({c: exprs[c] for c in USAGE.unique}, "workbook_raw_usage"),
                  queries.unknown_accounts(source, "workbook_accounts", n_examples=3)]
    statements += [queries.examples(queries.example_key(USAGE), source, c.predicate) for c in checks]
    for sql in statements:
        spark = to_spark_sql(sql)
        sqlglot.parse_one(spark, read="spark")          # valid Spark SQL
        low = spark.lower()
        assert "regexp_full_match" not in low and "isfinite" not in low and "::" not in low
        assert '"' not in spark.replace('\\"', "")      # identifiers in backticks, not double quotes
    assert "FILTER(WHERE" in to_spark_sql(statements[0])


def test_readiness_items_use_a_frame_not_a_duckdb_array():
    sql = queries.readiness_items("cohort")
    assert "unnest" not in sql and "::" not in sql
    con = duckdb.connect()
    con.execute("CREATE TABLE readiness AS SELECT * FROM (VALUES ('a', NULL, 1.0), ('b', NULL, 2.0)) "
                "v(account_id, completed_at, weight)")
    con.register("cohort", pd.DataFrame({"account_id": ["b"]}, dtype="object"))
    assert con.execute(sql).fetchall() == [("b", None, 2.0)]
    sqlglot.parse_one(to_spark_sql(sql), read="spark")
