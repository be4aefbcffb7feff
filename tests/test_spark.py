"""The Spark engine gives DuckDB's results: settings, transpilation, typed usage, equality.

One SparkSession serves the whole module (``spark`` fixture, local[2]); every other SparkEngine
here reuses it. Hand-made world (2026), windows of 28 days:

  h1 SMB 3 modules   usage 02-28 A 9u/9a, 03-01 A 2u/10a, 03-01 B 1u/0a (actions 0: not use),
                           03-15 A 3u/5a, 03-15 C 4u/7a, 03-28 B 1u/1a, 03-29 A 5u/5a
  h2 Ent 5 modules   usage 03-10 A 6u/0a, 03-20 A 2u/3a
  h3 SMB 2 modules   no usage

Window ending 03-28 (03-01 .. 03-28):
  h1: modules {A, C, B} = 3; actions 10+0+5+7+1 = 23; user_days 2+3+4+1 = 10 (use rows only);
      active_days {03-01, 03-15, 03-28} = 3; peak_users 4
  h2: modules {A} = 1; actions 0+3 = 3; user_days 2; active_days 1; peak_users 2
Window ending 03-10 (02-11 .. 03-10):
  h1: 02-28 A 9/9, 03-01 A 2/10, 03-01 B 1/0 -> modules 1, actions 19, user_days 11, active_days 2, peak 9
  h2: 03-10 A 6/0 -> a row exists but nothing counts as use: 0, 0, 0, 0, 0
Window of h1 ending 03-15 (02-16 .. 03-15): 02-28 A 9/9, 03-01 A 2/10, 03-01 B 1/0, 03-15 A 3/5,
  03-15 C 4/7 -> modules {A, C} = 2, actions 31, user_days 9+2+3+4 = 18, active_days 3, peak 9
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbook import engines
from workbook.adoption import usage_windows
from workbook.engines import DuckDBEngine, get_engine
from workbook.errors import BadInput
from workbook.spark import FIXED_CONF, SparkEngine, spark_settings, to_spark_sql
from workbook.workspace import open_data

pytestmark = pytest.mark.spark

TOL = 1e-9
# Tiny data: start fast rather than run fast (C1 JIT only, serial GC, no whole-stage code
# generation, one shuffle partition). Measured here: the module's Spark work in about 1/2 the time.
SPARK = {"master": "local[2]", "progress": False,
         "conf": {"spark.sql.shuffle.partitions": "1", "spark.sql.codegen.wholeStage": "false",
                  "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}}
MEASURES = ["modules_used", "actions", "user_days", "active_days", "peak_users"]

ACCOUNTS = [("h1", "SMB", 3, "2026-01-01"), ("h2", "Enterprise", 5, "2026-02-01"),
            ("h3", "SMB", 2, "2026-01-15")]
USAGE = [
    ("h1", "2026-02-28", "A", 9, 9), ("h1", "2026-03-01", "A", 2, 10), ("h1", "2026-03-01", "B", 1, 0),
    ("h1", "2026-03-15", "A", 3, 5), ("h1", "2026-03-15", "C", 4, 7), ("h1", "2026-03-28", "B", 1, 1),
    ("h1", "2026-03-29", "A", 5, 5),
    ("h2", "2026-03-10", "A", 6, 0), ("h2", "2026-03-20", "A", 2, 3),
]
E10, E15, E28 = pd.Timestamp("2026-03-10"), pd.Timestamp("2026-03-15"), pd.Timestamp("2026-03-28")
# (account, window_end) -> modules_used, actions, user_days, active_days, peak_users (see docstring)
HAND = {("h1", E28): (3, 23, 10, 3, 4), ("h2", E28): (1, 3, 2, 1, 2), ("h3", E28): (0, 0, 0, 0, 0),
        ("h1", E10): (1, 19, 11, 2, 9), ("h2", E10): (0, 0, 0, 0, 0), ("h3", E10): (0, 0, 0, 0, 0),
        ("h1", E15): (2, 31, 18, 3, 9)}


def _write(folder: Path, name: str, header: list[str], rows) -> None:
    with open(folder / f"{name}.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _hand_world(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "accounts", ["account_id", "name", "segment", "csm", "arr", "contracted_modules", "signed_at"],
           [(a, a.upper(), seg, "Kim", 1000, mods, signed) for a, seg, mods, signed in ACCOUNTS])
    _write(folder, "milestones", ["account_id", "milestone", "reached_at"], [("h1", "kickoff", "2026-01-05")])
    _write(folder, "usage", ["account_id", "date", "module", "active_users", "actions"], USAGE)
    return folder


def _expected(keys) -> pd.DataFrame:
    rows = [(a, e, *HAND[(a, e)]) for a, e in keys]
    return pd.DataFrame(rows, columns=["account_id", "window_end", *MEASURES])


def _sorted(df: pd.DataFrame, keys=("account_id", "window_end")) -> pd.DataFrame:
    return df.sort_values(list(keys)).reset_index(drop=True)


def _same_values(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got, want = _sorted(got), _sorted(want)
    assert list(got["account_id"]) == list(want["account_id"])
    assert list(got["window_end"]) == list(want["window_end"])
    for col in MEASURES:
        assert got[col].tolist() == want[col].tolist(), col


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def hand_ws(tmp_path_factory):
    ws = open_data(_hand_world(tmp_path_factory.mktemp("spark") / "hand"))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def spark(hand_ws):
    """The module's one SparkSession, owned by an engine on the hand-made world."""
    eng = SparkEngine(hand_ws, **SPARK)
    assert eng._owns_session
    yield eng
    eng.close()


# ---------------------------------------------------------------------------- settings
@pytest.fixture
def params(tmp_path, monkeypatch):
    """A private params directory; returns a function that writes its engine.yaml."""
    monkeypatch.setenv("WORKBOOK_PARAMS", str(tmp_path))
    for var in ("WORKBOOK_ENGINE", "WORKBOOK_SPARK_MASTER", "WORKBOOK_SPARK_DRIVER_MEMORY",
                "WORKBOOK_SPARK_USAGE_PATH", "WORKBOOK_SPARK_USAGE_FORMAT", "WORKBOOK_SPARK_LOG_LEVEL",
                "WORKBOOK_SPARK_CONF", "WORKBOOK_MEMORY_LIMIT", "WORKBOOK_THREADS"):
        monkeypatch.delenv(var, raising=False)

    def write(text: str) -> None:
        (tmp_path / "engine.yaml").write_text(text)
    return write


def test_settings_precedence_defaults_file_env_arguments(params, monkeypatch):
    params("spark:\n  master: local[3]\n  driver_memory: 3g\n  conf:\n"
           "    spark.sql.shuffle.partitions: 7\n    spark.sql.session.timeZone: Europe/Paris\n")
    monkeypatch.setenv("WORKBOOK_SPARK_MASTER", "local[1]")
    monkeypatch.setenv("WORKBOOK_SPARK_CONF", "spark.executor.memory=8g; spark.sql.shuffle.partitions=9")
    s = spark_settings(usage_path="s3a://lake/usage/", conf={"spark.x.flag": True}, master=None)
    assert s["master"] == "local[1]"                  # env beats the file
    assert s["driver_memory"] == "3g"                 # the file beats the default (4g)
    assert s["usage_path"] == "s3a://lake/usage/"     # argument
    assert s["log_level"] == "WARN"                   # default
    assert s["conf"]["spark.sql.shuffle.partitions"] == "9"   # env conf beats file conf
    assert s["conf"]["spark.executor.memory"] == "8g"
    assert s["conf"]["spark.x.flag"] == "true"
    assert s["conf"]["spark.ui.enabled"] == "false"   # built-in default conf
    # results depend on these: the file cannot change them
    assert s["conf"]["spark.sql.session.timeZone"] == "UTC"
    assert s["conf"]["spark.sql.timestampType"] == FIXED_CONF["spark.sql.timestampType"] == "TIMESTAMP_NTZ"


def test_settings_refuse_bad_values(params, monkeypatch):
    params("spark:\n  masterr: local[2]\n")
    with pytest.raises(BadInput) as err:
        spark_settings()
    assert (err.value.table, err.value.column) == ("params/engine.yaml", "spark") and "masterr" in err.value.rule
    params("spark:\n  usage_format: orc\n")
    with pytest.raises(BadInput, match="parquet or csv"):
        spark_settings()
    params("spark:\n  validate_usage: maybe\n")
    with pytest.raises(BadInput) as err:
        spark_settings()
    assert err.value.column == "spark.validate_usage"
    monkeypatch.setenv("WORKBOOK_SPARK_VALIDATE_USAGE", "no")          # the environment wins
    assert spark_settings()["validate_usage"] is False
    monkeypatch.delenv("WORKBOOK_SPARK_VALIDATE_USAGE")
    params("engine: duckdb\n")
    monkeypatch.setenv("WORKBOOK_SPARK_CONF", "spark.a=1;novalue")
    with pytest.raises(BadInput) as err:
        spark_settings()
    assert err.value.table == "WORKBOOK_SPARK_CONF" and "novalue" in err.value.rule


def test_default_engine_comes_from_params_then_env(params, monkeypatch, hand_ws, spark):
    params("engine: spark\n")
    eng = get_engine(hand_ws, None, **SPARK)
    assert isinstance(eng, SparkEngine) and eng.spark is spark.spark   # the one session, reused
    eng.close()
    monkeypatch.setenv("WORKBOOK_ENGINE", "duckdb")
    assert isinstance(get_engine(hand_ws, None), DuckDBEngine)
    monkeypatch.delenv("WORKBOOK_ENGINE")
    params("engine: presto\n")
    with pytest.raises(BadInput) as err:
        get_engine(hand_ws, None)
    assert (err.value.table, err.value.column) == ("params/engine.yaml", "engine")
    with pytest.raises(BadInput, match="unknown engine 'presto'"):
        get_engine(hand_ws, "presto")


def test_duckdb_settings_from_params(params, hand_ws, monkeypatch):
    params("duckdb:\n  memory_limit: 1GB\n  threads: 1\n")
    assert engines.duckdb_settings() == {"memory_limit": "1GB", "threads": 1}
    eng = get_engine(hand_ws, "duckdb")
    limit, threads = eng.con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
    assert limit == "953.6 MiB" and threads == 1          # 1GB = 10^9 bytes = 953.6 MiB
    monkeypatch.setenv("WORKBOOK_THREADS", "2")            # the environment wins
    assert engines.duckdb_settings()["threads"] == 2
    eng.con.execute("RESET memory_limit")
    eng.con.execute("RESET threads")
    eng.close()
    params("duckdb:\n  threads: zero\n")
    monkeypatch.delenv("WORKBOOK_THREADS")
    with pytest.raises(BadInput) as err:
        engines.duckdb_settings()
    assert err.value.column == "duckdb.threads"


# ---------------------------------------------------------------------------- transpilation
def test_duckdb_only_functions_are_rewritten_for_spark():
    sql = to_spark_sql("SELECT regexp_full_match(s, '[0-9]+(\\.0*)?') AS m, isfinite(x) AS f FROM t")
    assert "RLIKE '^(?:[0-9]+(\\\\.0*)?)$'" in sql
    assert "ISFINITE" not in sql.upper() and "REGEXP_FULL_MATCH" not in sql.upper()


def test_rewritten_functions_give_duckdbs_values(spark):
    sql = ("SELECT regexp_full_match('12a', '[0-9]+') AS a, regexp_full_match('12', '[0-9]+') AS b, "
           "regexp_full_match('x12', '[0-9]+') AS c, isfinite(CAST('Infinity' AS DOUBLE)) AS d, "
           "isfinite(CAST(1.5 AS DOUBLE)) AS e, isfinite(CAST('NaN' AS DOUBLE)) AS f, "
           "isfinite(CAST(NULL AS DOUBLE)) AS g")
    want = duckdb.connect().execute(sql).fetchone()
    got = tuple(spark.sql(sql).iloc[0])
    assert want == (False, True, False, False, True, False, None)
    assert got == want


# ---------------------------------------------------------------------------- usage windows by hand
def test_usage_windows_dates_form_by_hand(hand_ws, spark):
    duck = get_engine(hand_ws, "duckdb")
    want = _expected([(a, e) for a in ("h1", "h2", "h3") for e in (E10, E28)])
    for eng in (duck, spark):
        got = usage_windows(eng, dates=[E28, E10], accounts=["h1", "h2", "h3"])
        _same_values(got, want)
        # without accounts=, only accounts with usage rows in a window appear (h2 on 03-10 has one)
        got = usage_windows(eng, dates=[E10])
        assert sorted(got["account_id"]) == ["h1", "h2"]
    a = usage_windows(duck, dates=[E28, E10], accounts=["h1", "h2", "h3"])
    b = usage_windows(spark, dates=[E28, E10], accounts=["h1", "h2", "h3"])
    assert dict(a.dtypes) == dict(b.dtypes)


def test_usage_windows_ends_form_by_hand(hand_ws, spark):
    ends = pd.DataFrame({"account_id": ["h1", "h2", "h3"], "window_end": [E15, E28, E28]})
    want = _expected([("h1", E15), ("h2", E28), ("h3", E28)])
    got_duck = usage_windows(get_engine(hand_ws, "duckdb"), ends=ends)
    got_spark = usage_windows(spark, ends=ends)
    _same_values(got_duck, want)
    _same_values(got_spark, want)
    pdt.assert_frame_equal(_sorted(got_spark), _sorted(got_duck))


def test_run_returns_duckdbs_names_and_dtypes(hand_ws, spark):
    duck = get_engine(hand_ws, "duckdb").run("usage_extent")
    got = spark.run("usage_extent")
    pdt.assert_frame_equal(got, duck)
    assert got.loc[0, "n_rows"] == len(USAGE)
    assert got.loc[0, "first_date"] == pd.Timestamp("2026-02-28")
    assert got.loc[0, "last_date"] == pd.Timestamp("2026-03-29")


def test_usage_from_another_path_is_typed_like_the_source(hand_ws, spark, tmp_path):
    """usage_path with other raw types (text dates, int32, whole doubles, padded text) gives the same."""
    table = pa.table({
        "account_id": pa.array([f" {r[0]} " for r in USAGE]),
        "date": pa.array([r[1] for r in USAGE]),
        "module": pa.array([r[2] for r in USAGE]),
        "active_users": pa.array([r[3] for r in USAGE], pa.int32()),
        "actions": pa.array([float(r[4]) for r in USAGE], pa.float64()),
        "extra": pa.array(["kept"] * len(USAGE)),
    })
    lake = tmp_path / "lake" / "usage"
    lake.mkdir(parents=True)
    pq.write_table(table, lake / "part-0.parquet")
    eng = SparkEngine(hand_ws, usage_path=str(lake), **SPARK)
    assert eng.usage_location == (str(lake), "parquet")
    got = usage_windows(eng, dates=[E28, E10], accounts=["h1", "h2", "h3"])
    _same_values(got, _expected([(a, e) for a in ("h1", "h2", "h3") for e in (E10, E28)]))
    eng.close()
    assert not eng._owns_session and spark.spark.sparkContext._jsc is not None   # the session lives on


def test_usage_path_missing_column_is_bad_input(hand_ws, spark, tmp_path):
    pq.write_table(pa.table({"account_id": ["h1"], "date": ["2026-03-01"], "module": ["A"],
                             "active_users": [1]}), tmp_path / "usage.parquet")
    with pytest.raises(BadInput) as err:
        SparkEngine(hand_ws, usage_path=str(tmp_path / "usage.parquet"), **SPARK)
    assert (err.value.table, err.value.column) == ("usage", "actions")


def test_usage_inside_a_duckdb_file_needs_a_usage_path(tmp_path, spark):
    db = tmp_path / "src.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE accounts AS SELECT 'h1' AS account_id, 'H1' AS name, 'SMB' AS segment, "
                "'Kim' AS csm, 10.0 AS arr, 2 AS contracted_modules, DATE '2026-01-01' AS signed_at")
    con.execute("CREATE TABLE milestones AS SELECT 'h1' AS account_id, 'kickoff' AS milestone, "
                "DATE '2026-01-02' AS reached_at")
    con.execute("CREATE TABLE usage AS SELECT 'h1' AS account_id, DATE '2026-01-03' AS date, 'A' AS module, "
                "1 AS active_users, 2 AS actions")
    con.close()
    ws = open_data(db)
    with pytest.raises(BadInput) as err:
        SparkEngine(ws, **SPARK)
    assert err.value.table == "usage" and "usage_path" in err.value.rule
    ws.close()


# ---------------------------------------------------------------------------- equality on the sample world
def _same(a, b, where: str = "") -> None:
    """``a`` equals ``b``: numbers within TOL, everything else exactly, recursively."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, (float, np.floating)) and not isinstance(a, bool):
        assert isinstance(b, (float, int, np.number)) and not isinstance(b, bool), where
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= TOL, f"{where}: {a} != {b}"
    else:
        assert a == b or (a is None and b is None), f"{where}: {a!r} != {b!r}"


def _same_frame(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> None:
    """Same columns and dtypes; numeric columns within TOL (NaN where NaN); others identical."""
    assert list(a.columns) == list(b.columns)
    assert dict(a.dtypes) == dict(b.dtypes)
    assert len(a) == len(b)
    a, b = _sorted(a, keys), _sorted(b, keys)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x.dtype):
            xs, ys = x.to_numpy(dtype="float64"), y.to_numpy(dtype="float64")
            assert np.array_equal(np.isnan(xs), np.isnan(ys)), col
            ok = ~np.isnan(xs)
            assert np.all(np.abs(xs[ok] - ys[ok]) <= TOL), (col, float(np.max(np.abs(xs[ok] - ys[ok]))))
        else:
            pdt.assert_series_equal(x, y, check_exact=True, obj=col)


@pytest.fixture(scope="module")
def sample_engines(sample_ws, spark):
    """(DuckDB, Spark) engines on the 150-account sample world; Spark reuses the module's session."""
    duck = get_engine(sample_ws, "duckdb")
    eng = SparkEngine(sample_ws, **SPARK)
    yield duck, eng
    eng.close()
    duck.close()


def test_sample_usage_windows_equal(sample_ws, sample_engines):
    duck, eng = sample_engines
    as_of = sample_ws.default_as_of()
    dates = [as_of - pd.Timedelta(days=d) for d in (0, 7, 28, 90, 365)]
    accounts = list(sample_ws.frame("accounts")["account_id"])
    a = usage_windows(duck, dates=dates, accounts=accounts)
    b = usage_windows(eng, dates=dates, accounts=accounts)
    assert len(a) == len(accounts) * len(dates) and a["actions"].sum() > 0
    _same_frame(a, b, ["account_id", "window_end"])
    acc = sample_ws.frame("accounts")
    ends = pd.DataFrame({"account_id": acc["account_id"], "window_end": acc["signed_at"] + pd.Timedelta(days=45)})
    ends = ends[ends["window_end"] <= as_of]
    a, b = usage_windows(duck, ends=ends), usage_windows(eng, ends=ends)
    assert len(a) == len(ends) and (a["active_days"] > 0).sum() > len(ends) // 2
    _same_frame(a, b, ["account_id", "window_end"])


def test_sample_kpis_equal(sample_ws, sample_engines):
    """Every KPI (value, n, previous) and supporting metric, week and month, now and 40 days back."""
    from workbook import kpis
    duck, eng = sample_engines
    as_of = sample_ws.default_as_of()
    seen = 0
    for day in (as_of, as_of - pd.Timedelta(days=40)):
        for period in ("week", "month"):
            a = kpis.compute(sample_ws, day, period, engine=duck)
            b = kpis.compute(sample_ws, day, period, engine=eng)
            _same(a, b, f"{day:%Y-%m-%d}/{period}")
            seen += sum(v["value"] is not None for v in a["kpis"].values())
    assert seen >= 12      # most KPIs have a cohort: the comparison is not of empty results
    for key in ("adoption_rate", "first_90_day_retention"):      # the usage-based KPIs, 12 weeks
        a = kpis.trend(sample_ws, key, periods=12, engine=duck)
        b = kpis.trend(sample_ws, key, periods=12, engine=eng)
        assert a["value"].notna().sum() >= 3
        _same(a.to_dict("list"), b.to_dict("list"), key)


def test_sample_health_equal(sample_ws, sample_engines):
    """Every account's score, colour and five dimensions (and the rest of the table), two dates."""
    from workbook import health
    duck, eng = sample_engines
    as_of = sample_ws.default_as_of()
    for day in (as_of, as_of - pd.Timedelta(days=60)):
        a = health.health_table(sample_ws, day, engine=duck)
        b = health.health_table(sample_ws, day, engine=eng)
        assert len(a) > 50 and a["adoption"].notna().sum() > 50 and a["score"].nunique() > 20
        _same_frame(a, b, ["account_id"])
    a = health.history(sample_ws, as_of - pd.Timedelta(days=28), as_of, engine=duck)
    b = health.history(sample_ws, as_of - pd.Timedelta(days=28), as_of, engine=eng)
    assert a["date"].nunique() == 5
    _same_frame(a, b, ["account_id", "date"])


def test_usage_path_copy_is_validated_by_spark(hand_ws, spark, tmp_path):
    """A usage copy the workspace never read must obey the contract: every broken rule is listed
    (the workspace's own checks, generated once by workbook.queries, run here by Spark)."""
    rows = USAGE + [("h1", "2026-03-05", "A", 1, -4),      # actions < 0
                    ("h2", "2026-03-20", "A", 2, 3),       # duplicate of an h2 row
                    ("zz", "2026-03-06", "A", 1, 1),       # no such account
                    ("h3", "2026-03-07", "A", 1, 2),
                    ("h3", "1850-01-01", "A", 1, 1)]       # a date the contract's range refuses
    _write(tmp_path, "usage", ["account_id", "date", "module", "active_users", "actions"], rows)
    with open(tmp_path / "usage.csv", "a") as fh:
        fh.write("h3,2026-13-01,A,1,1\n")                  # not a date
    with pytest.raises(BadInput) as err:
        SparkEngine(hand_ws, usage_path=str(tmp_path / "usage.csv"), **SPARK)
    found = {(f.column, f.rule.split(" (in ")[0], f.count, f.examples) for f in err.value.findings}
    assert found == {
        ("actions", "must be >= 0", 1, ("h1 2026-03-05 A",)),
        (None, "duplicate account_id, date, module: each must appear once", 2, ("h2 2026-03-20 A",)),
        ("account_id", "refers to an account that is not in accounts", 1, ("zz",)),
        # the example key joins account, date and module: NULL with the date unreadable, as in DuckDB
        ("date", "must be an ISO date (YYYY-MM-DD)", 1, ("None",)),
        ("date", "must lie between 1900-01-01 and 2199-12-31", 1, ("h3 1850-01-01 A",)),
    }
    # a trusted pipeline may switch the check off
    eng = SparkEngine(hand_ws, usage_path=str(tmp_path / "usage.csv"), validate_usage=False, **SPARK)
    assert eng.usage_location[1] == "csv"
    eng.close()
