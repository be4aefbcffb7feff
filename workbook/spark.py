"""Run the named queries of :mod:`workbook.queries` on Apache Spark (local mode or a cluster).

:class:`SparkEngine` has the same ``run(query, frames=None, **params)`` as
:class:`workbook.engines.DuckDBEngine`, so every KPI and health function runs unchanged on
Spark when given ``engine=SparkEngine(ws)`` (or ``--engine spark`` on the command line):

* **one definition of each query.** The DuckDB SQL of :mod:`workbook.queries` is parsed and
  written as Spark SQL by sqlglot (:func:`to_spark_sql`). Where sqlglot has no Spark spelling of
  a DuckDB function, a small transform here supplies one (:data:`SPARK_FUNCTIONS`); no query is
  ever written twice.
* **the same typed usage.** ``usage`` is a temporary view over the source's usage file (Parquet
  or CSV) or over ``usage_path`` (any path Spark reads: ``/data``, ``hdfs://``, ``s3a://``),
  typed by the workspace's own typing SELECT (:meth:`Workspace.typed_select`) transpiled the same
  way, so values are cast exactly as DuckDB casts them.
* **the same pandas result.** Small frames go to Spark through Arrow (pandas ``datetime64``
  becomes Spark ``TIMESTAMP_NTZ``, the counterpart of DuckDB's ``TIMESTAMP``). Results come back
  through Arrow and are cast to the column types DuckDB gives the same query (``DESCRIBE``), then
  converted to pandas by DuckDB, so names and dtypes are identical to DuckDBEngine's.

Settings, strongest first: keyword arguments; environment variables (:data:`ENV_VARS`); the
``spark:`` section of ``params/engine.yaml``; the defaults in :data:`DEFAULTS`.
See ``docs/scaling.md`` for a cluster set-up.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from . import queries
from .contract import TABLES
from .errors import BadInput, Finding

#: Built-in settings, overridden by params/engine.yaml ``spark:``, then env vars, then arguments.
DEFAULTS: dict[str, Any] = {
    "master": "local[*]",
    "driver_memory": "4g",
    "usage_path": None,
    "usage_format": None,
    "log_level": "WARN",
    "validate_usage": True,
    "conf": {},
}

#: Environment variables and the setting each one overrides.
ENV_VARS = {
    "WORKBOOK_SPARK_MASTER": "master",
    "WORKBOOK_SPARK_DRIVER_MEMORY": "driver_memory",
    "WORKBOOK_SPARK_USAGE_PATH": "usage_path",
    "WORKBOOK_SPARK_USAGE_FORMAT": "usage_format",
    "WORKBOOK_SPARK_LOG_LEVEL": "log_level",
    "WORKBOOK_SPARK_VALIDATE_USAGE": "validate_usage",   # true/false
    "WORKBOOK_SPARK_CONF": "conf",          # "key=value;key=value", added to the conf mapping
}

#: Spark configuration the engine always sets: results depend on it, so it cannot be overridden.
#: Dates and naive timestamps are read and cast without any time-zone shift, as in DuckDB.
FIXED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}

#: Spark configuration used unless params/engine.yaml or WORKBOOK_SPARK_CONF says otherwise.
DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
}

LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG")
FORMATS = ("parquet", "csv")

# Spark type name (DataType.typeName()) -> the DuckDB type name the workspace's typing expects.
_DUCK_TYPE_OF_SPARK = {
    "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR",
    "long": "BIGINT", "integer": "INTEGER", "short": "SMALLINT", "byte": "TINYINT",
    "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
}


# ---------------------------------------------------------------------------- settings
def _parse_conf_text(text: str) -> dict[str, str]:
    """``"a=1;b=2"`` (also one pair per line) as a dict; a pair without ``=`` is bad input."""
    pairs: dict[str, str] = {}
    for item in text.replace("\n", ";").split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput("WORKBOOK_SPARK_CONF", None, f"{item.strip()!r} is not key=value "
                           "(separate pairs with ';')")
        pairs[key.strip()] = value.strip()
    return pairs


def spark_settings(**overrides) -> dict[str, Any]:
    """The Spark settings in force: ``DEFAULTS`` < params/engine.yaml ``spark:`` < env < ``overrides``.

    Returns a dict with ``master``, ``driver_memory``, ``usage_path``, ``usage_format``,
    ``log_level`` and ``conf`` (Spark configuration, str -> str). ``overrides`` with value
    ``None`` are ignored; an override ``conf`` is merged into the configuration.
    """
    from .params import load
    section = (load("engine", required=False) or {}).get("spark") or {}
    if not isinstance(section, dict):
        raise BadInput("params/engine.yaml", "spark", "must be a mapping of Spark settings")
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise BadInput("params/engine.yaml", "spark", f"unknown setting(s) {', '.join(unknown)}: "
                       f"use {', '.join(DEFAULTS)}")
    settings = {k: v for k, v in DEFAULTS.items() if k != "conf"}
    conf = dict(DEFAULT_CONF)
    file_conf = section.get("conf") or {}
    if not isinstance(file_conf, dict):
        raise BadInput("params/engine.yaml", "spark.conf", "must be a mapping of Spark configuration keys")
    settings.update({k: v for k, v in section.items() if k != "conf" and v is not None})
    conf.update({str(k): _conf_value(v) for k, v in file_conf.items()})
    for var, key in ENV_VARS.items():
        value = os.environ.get(var)
        if not value:
            continue
        if key == "conf":
            conf.update(_parse_conf_text(value))
        else:
            settings[key] = value
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "conf":
            conf.update({str(k): _conf_value(v) for k, v in value.items()})
        elif key in DEFAULTS:
            settings[key] = value
        else:
            raise TypeError(f"unknown Spark setting {key!r}")
    settings["log_level"] = str(settings["log_level"]).upper()
    if settings["log_level"] not in LOG_LEVELS:
        raise BadInput("params/engine.yaml", "spark.log_level", f"must be one of {', '.join(LOG_LEVELS)}")
    if settings["usage_format"] is not None and str(settings["usage_format"]).lower() not in FORMATS:
        raise BadInput("params/engine.yaml", "spark.usage_format", "must be parquet or csv")
    flag = str(settings["validate_usage"]).strip().lower()
    if flag not in ("true", "false", "1", "0", "yes", "no"):
        raise BadInput("params/engine.yaml", "spark.validate_usage", "must be true or false")
    settings["validate_usage"] = flag in ("true", "1", "yes")
    conf.update(FIXED_CONF)
    settings["conf"] = conf
    return settings


def _conf_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------- transpilation
def _regexp_full_match(node: exp.Expression) -> exp.Expression:
    """DuckDB ``regexp_full_match(s, p)`` (whole-string match) as ``s RLIKE '^(?:p)$'``."""
    pattern = node.expression
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        anchored: exp.Expression = exp.Literal.string(f"^(?:{pattern.this})$")
    else:
        anchored = exp.func("concat", exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$"))
    return exp.RegexpLike(this=node.this, expression=anchored)


def _isfinite(node: exp.Expression) -> exp.Expression:
    """DuckDB ``isfinite(x)`` as ``abs(x) < double('Infinity')`` (NaN and ±inf false, NULL stays NULL)."""
    arg = node.expressions[0]
    inf = exp.cast(exp.Literal.string("Infinity"), "double")
    return exp.paren(exp.LT(this=exp.Abs(this=arg), expression=inf), copy=False)


#: DuckDB functions sqlglot 30 writes unchanged for Spark (which lacks them), and their rewrite.
SPARK_FUNCTIONS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "regexp_full_match": _regexp_full_match,
    "isfinite": _isfinite,
}


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.RegexpFullMatch):
        return _regexp_full_match(node)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in SPARK_FUNCTIONS:
        return SPARK_FUNCTIONS[str(node.this).lower()](node)
    return node


def to_spark_sql(duckdb_sql: str) -> str:
    """Spark SQL text for one DuckDB statement: sqlglot's transpilation plus :data:`SPARK_FUNCTIONS`."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    return tree.transform(_rewrite).sql(dialect="spark")


# ---------------------------------------------------------------------------- frames and results
def _arrow_for_spark(frame: pd.DataFrame) -> pa.Table:
    """A pandas frame as an Arrow table Spark accepts (plain strings, microsecond timestamps)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_null(t):
            t = pa.string()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz=t.tz)
        fields.append(pa.field(f.name, t))
    schema = pa.schema(fields)
    return table if schema == table.schema else table.cast(schema)


# ---------------------------------------------------------------------------- the engine
class SparkEngine:
    """Runs named queries on Apache Spark, returning what :class:`DuckDBEngine` returns.

    Parameters
    ----------
    ws:
        The opened workspace (its small tables, its usage file and its DuckDB, which gives the
        reference result types).
    master, conf, usage_path:
        Spark master URL (``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://…``), extra Spark
        configuration, and where Spark reads usage (default: the source's usage file). Unset
        values come from env vars and params/engine.yaml (see :func:`spark_settings`).
        A usage copy at ``usage_path`` was not validated by the workspace, so Spark runs the
        contract's usage rules on it first (``validate_usage``, default true) and raises
        :class:`BadInput` when it breaks one.
    driver_memory, usage_format, log_level, validate_usage:
        Further settings, same sources.
    progress:
        Called with one line when the session starts (default: printed to stderr); ``False``
        for silence.
    """

    name = "spark"

    def __init__(self, ws, *, master: str | None = None, conf: dict | None = None,
                 usage_path: str | None = None, app_name: str = "workbook",
                 driver_memory: str | None = None, usage_format: str | None = None,
                 log_level: str | None = None, validate_usage: bool | None = None,
                 progress: Callable[[str], None] | bool | None = None):
        self.ws = ws
        self.settings = spark_settings(master=master, conf=conf, usage_path=usage_path,
                                       driver_memory=driver_memory, usage_format=usage_format,
                                       log_level=log_level, validate_usage=validate_usage)
        self.app_name = app_name
        self._say = (lambda line: None) if progress is False else (progress or _stderr)
        self._logdir: str | None = None
        self.spark, self._owns_session = self._session()
        try:
            self._usage = self._usage_frame()
        except BaseException:
            if self._owns_session:       # a usage problem must not leave a JVM behind
                self.spark.stop()
            raise
        self._convert = duckdb.connect()
        self._describe = ws.con.cursor()    # binds queries for their result types; never runs them

    # ------------------------------------------------------------------ public API
    def run(self, query: str, frames: dict[str, pd.DataFrame] | None = None, **params) -> pd.DataFrame:
        """Run the named query with ``params`` substituted and ``frames`` visible as tables.

        Returns a pandas DataFrame with the column names and dtypes DuckDBEngine gives the same
        query (values computed by Spark).
        """
        duck_sql = queries.render(query, **params)
        frames = frames or {}
        types = self._duckdb_types(duck_sql, frames)
        views = []
        try:
            self._usage.createOrReplaceTempView("usage")
            for name, frame in frames.items():
                self.spark.createDataFrame(_arrow_for_spark(frame)).createOrReplaceTempView(name)
                views.append(name)
            result = self.spark.sql(to_spark_sql(duck_sql)).toArrow()
        finally:
            for name in views:
                self.spark.catalog.dropTempView(name)
        return self._to_pandas(result, types, query)

    def sql(self, duckdb_sql: str) -> pd.DataFrame:
        """Run one ad-hoc DuckDB-dialect statement on Spark (transpiled); plain Spark-to-pandas result."""
        self._usage.createOrReplaceTempView("usage")
        return self.spark.sql(to_spark_sql(duckdb_sql)).toArrow().to_pandas()

    def close(self) -> None:
        """Drop the engine's views; stop the SparkSession if this engine started it."""
        try:
            self._convert.close()
            self._describe.close()
            if self._owns_session:
                self.spark.stop()
            else:
                self.spark.catalog.dropTempView("usage")
        finally:
            if self._logdir:
                shutil.rmtree(self._logdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<SparkEngine {self.settings['master']} usage={self.usage_location[0]}>"

    @property
    def usage_location(self) -> tuple[str, str]:
        """(path, format) Spark reads usage from."""
        path = self.settings["usage_path"]
        if path:
            fmt = self.settings["usage_format"] or ("csv" if str(path).rstrip("/").lower().endswith(".csv")
                                                   else "parquet")
            return str(path), str(fmt).lower()
        st = self.ws.tables.get("usage")
        if st is None or st.path is None:
            raise BadInput("usage", None, "is inside a DuckDB database file, which Spark cannot read: "
                           "export it to Parquet and set spark.usage_path in params/engine.yaml "
                           "(or WORKBOOK_SPARK_USAGE_PATH)")
        return str(Path(st.path).resolve()), st.format

    # ------------------------------------------------------------------ session
    def _session(self):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
            try:
                from pyspark.sql import SparkSession
            except ImportError:
                raise RuntimeError("the Spark engine needs PySpark: pip install 'workbook[spark]'") from None
        s = self.settings
        active = SparkSession.getActiveSession()
        if active is not None:
            active.sparkContext.setLogLevel(s["log_level"])
            return active, False
        if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
            raise RuntimeError("the Spark engine needs Java 17 or later: install it or set JAVA_HOME")
        if str(s["master"]).startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")   # local mode: bind to loopback, quietly
        self._say(f"workbook: starting Spark (master {s['master']}, driver memory {s['driver_memory']}) ...")
        started = time.perf_counter()
        builder = SparkSession.builder.master(s["master"]).appName(self.app_name)
        conf = dict(s["conf"])
        conf.setdefault("spark.driver.memory", s["driver_memory"])
        log_opt = f"-Dlog4j2.configurationFile=file:{self._log_config()}"
        conf["spark.driver.extraJavaOptions"] = f"{conf.get('spark.driver.extraJavaOptions', '')} {log_opt}".strip()
        for key, value in conf.items():
            builder = builder.config(key, value)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
                spark = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - a JVM that does not start: say so plainly
            shutil.rmtree(self._logdir, ignore_errors=True)
            raise RuntimeError(f"Spark did not start (master {s['master']}): {str(exc).splitlines()[0]}") from exc
        spark.sparkContext.setLogLevel(s["log_level"])
        self._say(f"workbook: Spark {spark.version} ready in {time.perf_counter() - started:.1f} s")
        return spark, True

    def _log_config(self) -> str:
        """Write a log4j2 configuration (console on stderr at the chosen level) and return its path."""
        self._logdir = tempfile.mkdtemp(prefix="workbook-spark-")
        level = self.settings["log_level"].lower()
        path = Path(self._logdir) / "log4j2.properties"
        path.write_text("\n".join([
            f"rootLogger.level = {level}",
            "rootLogger.appenderRef.stderr.ref = stderr",
            "appender.console.type = Console",
            "appender.console.name = stderr",
            "appender.console.target = SYSTEM_ERR",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n",
            # noise at WARN that says nothing about the run
            "logger.hadoop.name = org.apache.hadoop.util.NativeCodeLoader",
            "logger.hadoop.level = error",
            "logger.strutil.name = org.apache.spark.util.SparkStringUtils",
            "logger.strutil.level = error",
            "logger.sqlctx.name = SQLQueryContextLogger",
            "logger.sqlctx.level = off",
            "",
        ]))
        return str(path)

    # ------------------------------------------------------------------ usage
    def _usage_frame(self):
        """The typed usage DataFrame: the source's raw columns cast by the workspace's typing SELECT."""
        path, fmt = self.usage_location
        if fmt == "parquet":
            raw = self.spark.read.parquet(path)
        elif fmt == "csv":
            raw = (self.spark.read.option("header", True).option("inferSchema", False)
                   .option("quote", '"').option("escape", '"').option("encoding", "UTF-8").csv(path))
        else:
            raise BadInput("usage", None, f"Spark reads usage as parquet or csv, not {fmt}")
        clean = {c: c.strip().lstrip("\ufeff") for c in raw.columns}
        if any(k != v for k, v in clean.items()):
            raw = raw.toDF(*clean.values())
        missing = [c for c in TABLES["usage"].required_columns if c not in raw.columns]
        if missing:
            raise BadInput("usage", missing[0], f"required column is missing in {path}")
        raw_types = {f.name: self._duck_type(f.dataType) for f in raw.schema.fields}
        raw.createOrReplaceTempView("workbook_raw_usage")
        typed = self.ws.typed_select("usage", "workbook_raw_usage", raw_types)
        usage = self.spark.sql(to_spark_sql(typed))
        if self.settings["usage_path"] and self.settings["validate_usage"]:
            self._validate_usage("workbook_raw_usage", raw_types, path)
        return usage

    def _validate_usage(self, raw: str, raw_types: dict[str, str], path: str) -> None:
        """The contract's usage checks, run by Spark on a usage copy the workspace did not read.

        The workspace's own checks (:func:`workbook.queries.contract_checks`: type errors, values
        out of range, empty required values, row rules), duplicate (account_id, date, module) and
        accounts missing from ``accounts``, over the raw view ``raw`` typed by the same SELECT.
        Raises :class:`BadInput` listing every broken rule; returns None when the copy is valid.
        """
        table = TABLES["usage"]
        checks = queries.contract_checks(table, raw_types)
        source = queries.subquery(queries.typed_select(table, raw, raw_types, raw=True, extra=False))
        ids = self.ws.frame("accounts")[["account_id"]].astype({"account_id": "object"})
        self.spark.createDataFrame(_arrow_for_spark(ids)).createOrReplaceTempView("workbook_accounts")
        try:
            counts = self._collect(queries.check_counts(checks, source, accounts="workbook_accounts"))[0]
            findings = []
            for check, n in zip(checks, counts[1:-1]):
                if n:
                    ex = self._collect(queries.examples(queries.example_key(table), source, check.predicate))
                    findings.append(Finding(check.severity, "usage", check.column, f"{check.text} (in {path})",
                                            int(n), tuple(str(r[0]) for r in ex)))
            exprs = queries.typed_columns(table, raw_types)
            dup = sorted(self._collect(queries.duplicates({c: exprs[c] for c in table.unique}, raw)),
                         key=lambda d: tuple(str(v) for v in d[:-1]))
            if dup:
                findings.append(Finding("error", "usage", None, f"duplicate {', '.join(table.unique)}: each must "
                                        f"appear once (in {path})", sum(int(d[-1]) for d in dup),
                                        tuple(" ".join(str(v) for v in d[:-1]) for d in dup[:3])))
            if counts[-1]:
                ex = self._collect(queries.unknown_accounts(source, "workbook_accounts", n_examples=3))
                findings.append(Finding("error", "usage", "account_id", "refers to an account that is not in "
                                        f"accounts (in {path})", int(counts[-1]), tuple(r[0] for r in ex)))
        finally:
            self.spark.catalog.dropTempView("workbook_accounts")
        if findings:
            raise BadInput.from_findings(findings)

    def _collect(self, duckdb_sql: str) -> list:
        """The rows of one DuckDB-dialect query, transpiled and run by Spark."""
        return self.spark.sql(to_spark_sql(duckdb_sql)).collect()

    @staticmethod
    def _duck_type(dtype) -> str:
        name = dtype.typeName()
        if name == "decimal":
            return f"DECIMAL({dtype.precision},{dtype.scale})"
        return _DUCK_TYPE_OF_SPARK.get(name, "VARCHAR")

    # ------------------------------------------------------------------ results
    def _duckdb_types(self, duck_sql: str, frames: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
        """(name, DuckDB type) of each result column of ``duck_sql``, bound (not run) in DuckDB."""
        con = self._describe
        names = []
        try:
            for name, frame in frames.items():
                con.register(name, frame)
                names.append(name)
            return [(r[0], r[1]) for r in con.execute(queries.describe(query=duck_sql)).fetchall()]
        finally:
            for name in names:
                con.unregister(name)

    def _to_pandas(self, result: pa.Table, types: list[tuple[str, str]], query: str) -> pd.DataFrame:
        if result.num_columns != len(types):
            raise RuntimeError(f"query {query}: Spark returned {result.num_columns} columns, "
                               f"DuckDB {len(types)}")
        result = result.rename_columns([f"c{i}" for i in range(result.num_columns)])
        columns = [(f"c{i}", t, n) for i, (n, t) in enumerate(types)]
        self._convert.register("spark_result", result)
        try:
            return self._convert.execute(queries.cast_columns("spark_result", columns)).df()
        finally:
            self._convert.unregister("spark_result")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
