"""Reports: run ``notebooks/<name>.ipynb`` with papermill, write self-contained HTML atomically.

:func:`render` executes one notebook and writes ``OUT/<name>/<as_of>/<name>.html`` (no code, no
network: every image embedded, no script or style loaded from a host) with the executed
``<name>.ipynb`` beside it, then refreshes ``OUT/index.html``. :func:`backfill` renders one report
per week over a date range in a single kernel; :func:`render_batch` renders several reports, or one
report per member (``--each csm|red``, under ``OUT/<name>/<as_of>/<member_slug>/``), in one kernel,
after :func:`plan` has checked them all and validated the data once. A notebook tells the renderer what it reported on
with :func:`record` (the ``as_of`` it resolved, the weights version, the data fingerprint).

Failure never touches the last good report: the failed executed notebook is kept as
``OUT/<name>/<as_of or 'unknown'>/<name>.failed.ipynb`` and :class:`ReportFailed` is raised, with
``exit_code`` 2 when the notebook raised :class:`workbook.errors.BadInput` and 1 otherwise. Bad
arguments (unknown report, unknown parameter, malformed date) raise ``BadInput`` before anything
runs. See ``docs/reports.md``.

This module imports only the standard library at import time: notebooks import it for
:func:`record`, and papermill/nbconvert load only when a report is rendered.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import datetime as dt
import html
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .errors import BadInput

#: MIME type of the display output :func:`record` publishes (read back from the executed notebook).
RECORD_MIME = "application/vnd.workbook.record+json"
#: Name of the papermill engine registered by this module.
ENGINE_NAME = "workbook"

Progress = Callable[[str], None]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_ERROR_MARKER_TAG = "papermill-error-cell-tag"
_INJECTED_TAG = "injected-parameters"
_NO_ALT = "Figure (no description provided)"


class ReportFailed(Exception):
    """A report did not render. The previous good report is untouched.

    ``cell_index`` counts from 0 over the cells of ``notebooks/<name>.ipynb`` (None when the
    failure was not in a cell, e.g. rendering); ``exec_count`` is the ``In [n]`` number shown in
    the failed notebook; ``ename``/``evalue`` are the exception's type name and message;
    ``failed_notebook`` is the kept executed notebook (None if execution never started).
    """

    def __init__(self, name: str, *, ename: str, evalue: str, cell_index: int | None = None,
                 exec_count: int | None = None, failed_notebook: Path | None = None,
                 traceback: list[str] | None = None):
        self.name = name
        self.cell_index = cell_index
        self.exec_count = exec_count
        self.ename = ename
        self.evalue = evalue
        self.failed_notebook = failed_notebook
        self.traceback = list(traceback or [])
        super().__init__(self._text())

    @property
    def bad_input(self) -> bool:
        """True when the notebook stopped on bad input data (it raised ``BadInput``)."""
        return self.ename == "BadInput"

    @property
    def exit_code(self) -> int:
        """The command-line exit code: 2 for bad input, 1 for anything else."""
        return 2 if self.bad_input else 1

    def _text(self) -> str:
        where = f"in cell {self.cell_index}" if self.cell_index is not None else "while rendering"
        if self.cell_index is not None and self.exec_count is not None:
            where += f" (In [{self.exec_count}])"
        text = f"report {self.name!r} failed {where}: {self.ename}"
        if self.evalue:
            text += f": {self.evalue}"
        if self.failed_notebook is not None:
            text += f"\nfailed notebook kept at {self.failed_notebook}"
        return text


@dataclass(frozen=True)
class RenderResult:
    """One rendered report: where it was written and what it was rendered with."""

    name: str
    as_of: str
    html: Path
    notebook: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    member: str | None = None


# --------------------------------------------------------------------------------------------
# Inside the notebook


def record(*, as_of=None, weights_version=None, fingerprint=None, **extra) -> None:
    """Record what this report was computed for, so the renderer can read it back.

    Call it in a notebook once ``as_of`` is resolved (e.g. when the parameter was ``None``).
    Publishes a display output of type :data:`RECORD_MIME` holding ``as_of`` as ``YYYY-MM-DD``,
    ``weights_version``, ``fingerprint`` and any extra JSON-able keywords (None values are left
    out). JupyterLab shows it as one short line; the HTML report leaves it out. Calling it again
    adds to or overrides earlier values. Returns None, so a cell ending with it shows nothing
    more; :func:`recorded_values` gives the values without publishing them.
    """
    values = recorded_values(as_of=as_of, weights_version=weights_version, fingerprint=fingerprint, **extra)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    if get_ipython() is not None:
        summary = ", ".join(f"{key}={value}" for key, value in values.items())
        display({RECORD_MIME: values, "text/plain": f"workbook record: {summary}"}, raw=True)


def recorded_values(*, as_of=None, weights_version=None, fingerprint=None, **extra) -> dict[str, Any]:
    """What :func:`record` publishes for these arguments (dates as ``YYYY-MM-DD``, no None values)."""
    values = {"as_of": as_of, "weights_version": weights_version, "fingerprint": fingerprint, **extra}
    from .iofmt import jsonable
    values = {key: jsonable(value) for key, value in values.items() if value is not None}
    if "as_of" in values:  # the notebook's own Timestamp (as text with a time of day) is fine here
        text = str(values["as_of"])
        values["as_of"] = iso_date(text[:10] if re.match(r"\d{4}-\d{2}-\d{2}T", text) else values["as_of"], "as_of")
    return values


def read_record(nb) -> dict[str, Any]:
    """The values recorded with :func:`record` in an executed notebook (later calls win)."""
    found: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if output.get("output_type") in ("display_data", "execute_result") and RECORD_MIME in data:
                value = data[RECORD_MIME]
                found.update(json.loads(value) if isinstance(value, str) else dict(value))
    return found


# --------------------------------------------------------------------------------------------
# Public API


def render(name: str, *, notebook_dir: str | os.PathLike = "notebooks", data=None, as_of=None,
           parameters: Mapping[str, Any] | None = None, out: str | os.PathLike = "reports",
           kernel_name: str = "python3", progress: Progress | None = None) -> RenderResult:
    """Execute report ``name`` and write ``out/<name>/<as_of>/<name>.html`` plus the executed notebook.

    Parameters are, weakest first: ``params/<name>.yaml``, ``parameters``, then ``data`` and
    ``as_of`` (a date or ``YYYY-MM-DD``). The folder's ``as_of`` is the merged ``as_of``
    parameter when set, else the ``as_of`` the notebook passed to :func:`record`. ``progress``
    receives lines such as
    ``"weekly: executing cell 3/20"``. Refreshes ``out/index.html`` on success.

    Raises ``BadInput`` for bad arguments (nothing runs) and :class:`ReportFailed` when the
    notebook fails or the HTML cannot be written (the last good report is left as it was).
    """
    with _Kernel(kernel_name, progress=progress, label=name) as kernel:
        return _render(name, kernel, notebook_dir=notebook_dir, data=data, as_of=as_of,
                       parameters=parameters, out=out, progress=progress)


def backfill(name: str, start, end, *, step_days: int = 7, notebook_dir: str | os.PathLike = "notebooks",
             data=None, parameters: Mapping[str, Any] | None = None, out: str | os.PathLike = "reports",
             kernel_name: str = "python3", progress: Progress | None = None) -> list[RenderResult]:
    """Render report ``name`` for ``as_of = start, start + step_days, ...`` up to ``end`` (inclusive).

    All runs share one kernel (its namespace is reset between runs, imported modules stay loaded),
    which saves the kernel start and the imports on every run after the first. Stops at the
    first failure and raises its :class:`ReportFailed`; reports written before it stay. Returns
    the results in date order.
    """
    dates = backfill_dates(start, end, step_days)
    results: list[RenderResult] = []
    with _Kernel(kernel_name, progress=progress, label=name) as kernel:
        for number, day in enumerate(dates, 1):
            _say(progress, f"{name}: backfill {number}/{len(dates)} as_of {day}")
            results.append(_render(name, kernel, notebook_dir=notebook_dir, data=data, as_of=day,
                                   parameters=parameters, out=out, progress=progress))
    return results


def backfill_dates(start, end, step_days: int = 7) -> list[str]:
    """``start, start + step_days, ...`` while ``<= end``, as ``YYYY-MM-DD`` strings."""
    first = dt.date.fromisoformat(iso_date(start, "--from"))
    last = dt.date.fromisoformat(iso_date(end, "--to"))
    if step_days < 1:
        raise BadInput("step_days", None, "must be at least 1")
    if last < first:
        raise BadInput("--to", None, f"is before --from ({last} < {first})")
    count = (last - first).days // step_days + 1
    return [(first + dt.timedelta(days=step_days * i)).isoformat() for i in range(count)]


#: The reports ``workbook report all`` renders: the five scheduled reports, in this order.
SCHEDULED = ("weekly", "monthly", "post_cycle", "calibration", "dashboard")
#: ``--each KIND`` → the notebook parameter each member is passed as.
EACH = {"csm": "csm", "red": "account_id"}


@dataclass(frozen=True)
class Job:
    """One notebook run of a ``workbook report`` command: a report, its parameters and, in a
    batch (``--each``), the member it is about (written under ``<as_of>/<member_slug(member)>/``)."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    member: str | None = None

    @property
    def label(self) -> str:
        return self.name if self.member is None else f"{self.name} {self.member}"


@dataclass
class BatchResult:
    """What a run of several reports or members did: the pages written and the failures, in order."""

    results: list[RenderResult] = field(default_factory=list)
    failures: list[tuple[Job, ReportFailed]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 2 when every failure was bad input, else 1."""
        if not self.failures:
            return 0
        return 2 if all(f.bad_input for _, f in self.failures) else 1


def expand_names(names) -> list[str]:
    """The report names of a command line: ``all`` is :data:`SCHEDULED`; repeats are dropped.

    ``all`` with other names is refused (BadInput on ``NAME``), as is an empty list.
    """
    names = [str(n) for n in (names or [])]
    if not names:
        raise BadInput("NAME", None, "name at least one report, or all")
    if "all" in names:
        if len(names) > 1:
            raise BadInput("NAME", None, f"all already means {', '.join(SCHEDULED)}: name no other report with it")
        return list(SCHEDULED)
    return list(dict.fromkeys(names))


def member_slug(member) -> str:
    """A safe folder name for a batch member: lowercase letters, digits and dashes from its text
    plus a short hash of the text, so ``"Ana López"`` → ``ana-lopez-1b2c3d`` and two members
    whose letters agree (``"A/B"``, ``"a b"``) stay distinct. Never ``.``, ``..`` or a path."""
    import hashlib
    import unicodedata

    text = str(member)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:40].strip("-") or "member"
    return f"{base}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:6]}"


def plan(names, *, each: str | None = None, notebook_dir: str | os.PathLike = "notebooks", data=None, as_of=None,
         parameters: Mapping[str, Any] | None = None, out: str | os.PathLike = "reports", date_from=None,
         date_to=None, revalidate: bool = False, progress: Progress | None = None) -> tuple[list[Job], str | None]:
    """Check a ``workbook report NAME... | all [--each csm|red]`` run before any kernel starts and
    list its notebook runs.

    Everything :func:`prepare` checks, for every named report, with the data opened and validated
    ONCE (``revalidate`` asks the workspace to validate again even when its receipt is current).
    ``--each`` takes exactly one report whose notebook has the member parameter (:data:`EACH`)
    and no backfill; its members are the CSMs of the live accounts (``csm``) or the red accounts
    (``red``) of :func:`workbook.health.health_table` on ``as_of`` (the latest usage date when
    None), and every member run gets that ``as_of``. Raises :class:`BadInput`; returns the jobs
    and ``as_of`` (``YYYY-MM-DD`` or None).
    """
    names = expand_names(names)
    if (date_from is not None or each is not None) and len(names) > 1:
        raise BadInput("--from" if each is None else "--each", None,
                       f"takes one report, not {len(names)} ({', '.join(names)})")
    if each is not None and each not in EACH:
        raise BadInput("--each", None, f"unknown kind {each!r}: use {' or '.join(EACH)}")
    if each is not None and date_from is not None:
        raise BadInput("--each", None, "a batch renders one as_of: leave --from/--to out")
    if each is not None and EACH[each] in (parameters or {}):
        raise BadInput("-p", EACH[each], f"--each {each} sets {EACH[each]} for every member: leave -p {EACH[each]} out")
    as_of = _checked_dates(as_of, date_from, date_to)
    check_writable(out, "--out")
    merged = {}
    for name in names:
        source = notebook_path(name, notebook_dir)
        merged[name] = _merged_parameters(name, source, data, as_of, parameters)
        if each is not None and EACH[each] not in notebook_parameters(source):
            raise BadInput("--each", None, f"{source} has no parameter {EACH[each]}: it cannot render one "
                           f"report per {each}")
    members = _validate_once(names, merged, progress, revalidate, each, as_of)
    if each is None:
        return [Job(name, merged[name]) for name in names], as_of
    name = names[0]
    as_of, found = members
    return [Job(name, {**merged[name], "as_of": as_of, EACH[each]: m}, m) for m in found], as_of


def _checked_dates(as_of, date_from, date_to) -> str | None:
    """The backfill range and ``as_of`` as :func:`prepare` checks them; ``as_of`` as text or None."""
    if (date_from is None) != (date_to is None):
        raise BadInput("--from" if date_from is None else "--to", None, "a backfill needs both --from and --to")
    if date_from is not None and as_of is not None:
        raise BadInput("--as-of", None, "a backfill (--from/--to) sets as_of for each report: leave --as-of out")
    return iso_date(as_of, "--as-of") if as_of is not None else None


def _validate_once(names, merged: dict, progress, revalidate: bool, each: str | None, as_of):
    """Validate each distinct data source of the run once; for ``--each``, ``(as_of, members)``."""
    by_source: dict[Path, list[str]] = {}
    for name in names:
        by_source.setdefault(resolve_data(merged[name].get("data")), []).append(name)
    found = None
    for group in by_source.values():
        first = group[0]
        got = _validate_data(first, merged[first].get("data"), progress, merged[first], revalidate=revalidate,
                             members=(each, as_of, merged[first].get("engine")),
                             also=[(name, merged[name]) for name in group[1:]])
        found = got if first == names[0] else found
    return found


def batch_members(ws, each: str, as_of=None, engine=None) -> tuple[str, list[str]]:
    """``(as_of, members)`` of a ``--each`` batch: the sorted CSMs of the live accounts (``csm``)
    or the ids of the red accounts (``red``, final colour) of the health table on ``as_of``."""
    from .engines import get_engine
    from .health import health_table
    from .periods import resolve_as_of

    day = resolve_as_of(ws, as_of)
    eng = get_engine(ws, engine)
    try:
        table = health_table(ws, day, None, eng)
    finally:
        eng.close()
    if each == "csm":
        found = sorted({str(c) for c in table["csm"].dropna()})
    else:
        found = sorted(str(a) for a in table.loc[(table["colour"] == "red").fillna(False).to_numpy(bool), "account_id"])
    return iso_date(day.date()), found


def render_batch(jobs: list[Job], *, notebook_dir: str | os.PathLike = "notebooks", out: str | os.PathLike = "reports",
                 kernel_name: str = "python3", progress: Progress | None = None) -> BatchResult:
    """Render every job in ONE kernel (namespace reset between runs; the modules it imported and
    the results :mod:`workbook.reporting` shares stay). Each page is published atomically; a
    failure is kept and recorded and the next job runs (in a new kernel when the kernel died).
    Members are written under ``out/<name>/<as_of>/<member_slug>/`` with their names in
    ``out/<name>/<as_of>/members.json``. ``out/index.html`` is refreshed once, at the end.
    """
    batch = BatchResult()
    total = len(jobs)
    with _Kernel(kernel_name, progress=progress) as kernel:
        for number, job in enumerate(jobs, 1):
            say = (lambda line, n=number: _say(progress, f"[{n}/{total}] {line}")) if progress else None
            kernel.progress, kernel.label = say, job.label
            try:
                batch.results.append(_render(job.name, kernel, notebook_dir=notebook_dir, data=None, as_of=None,
                                             parameters=job.parameters, out=out, progress=say, member=job.member,
                                             refresh=False))
            except ReportFailed as exc:
                batch.failures.append((job, exc))
                _say(say, f"{job.label}: failed: {exc.ename}: {exc.evalue}")
                kernel.restart_if_dead()
            finally:
                if job.member is not None:
                    _remember_member(Path(out), job)
    _refresh_index_quietly(out)
    return batch


def _remember_member(out: Path, job: Job) -> None:
    """Add the member's name under its slug to ``out/<name>/<as_of>/members.json`` (for the index)."""
    from .iofmt import atomic_write
    as_of = job.parameters.get("as_of")
    folder = out / job.name / str(as_of)
    if not (folder / member_slug(job.member)).is_dir():
        return
    path = folder / "members.json"
    known = _read_members(folder)
    known[member_slug(job.member)] = job.member
    atomic_write(path, json.dumps(dict(sorted(known.items())), indent=1, ensure_ascii=False) + "\n")


def _read_members(folder: Path) -> dict[str, str]:
    try:
        found = json.loads((folder / "members.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


#: Environment variable naming the data source a report reads when its ``data`` parameter is None.
DATA_ENV = "WORKBOOK_DATA"
DEFAULT_DATA = "data/sample"


def resolve_data(data=None) -> Path:
    """The data source a report reads: ``data``, else ``$WORKBOOK_DATA``, else ``data/sample``.

    A relative path is looked up under the current directory first, then under the repository
    root (the parent of this package), so a notebook whose kernel runs in ``notebooks/``
    (JupyterLab, nbval) finds ``data/sample``. Returns the path; it may not exist (opening it
    then says so).
    """
    given = data if data not in (None, "") else (os.environ.get(DATA_ENV) or DEFAULT_DATA)
    path = Path(os.fspath(given)).expanduser()
    if path.is_absolute() or path.exists():
        return path
    beside = _PACKAGE_ROOT / path
    return beside if beside.exists() else path


def prepare(name: str, *, data=None, as_of=None, parameters: Mapping[str, Any] | None = None,
            out: str | os.PathLike = "reports", date_from=None, date_to=None,
            progress: Progress | None = None) -> str | None:
    """Check everything about a ``workbook report`` run that can be checked before a kernel starts.

    The backfill range (``date_from`` and ``date_to`` together, without ``as_of``), the ``as_of``
    date, the output folder (:func:`check_writable`), the report name, the parameters (a key the
    notebook does not have is refused) and the data itself, which is opened and validated. Raises
    :class:`BadInput` (nothing written, no kernel started); returns ``as_of`` as ``YYYY-MM-DD``
    (None when not given).
    """
    as_of = _checked_dates(as_of, date_from, date_to)
    check_writable(out, "--out")
    source = notebook_path(name)
    merged = _merged_parameters(name, source, data, as_of, parameters)
    _validate_data(name, merged.get("data"), progress, merged)
    return as_of


def check_writable(path: str | os.PathLike, option: str = "--out") -> None:
    """Refuse (BadInput, exit 2) an output folder that cannot be created or written, before any work.

    Nothing is created: the nearest folder that exists must be a writable directory, and no
    part of the path below it may be a file.
    """
    target = Path(path)
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise BadInput(option, None, f"cannot write reports to {target}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(option, None, f"cannot write reports to {target}: {probe} is not writable")


def _validate_data(name: str, data, progress: Progress | None, parameters: Mapping[str, Any] | None = None, *,
                   revalidate: bool = False, members: tuple | None = None, also=()):
    """Open and validate the report's data source before any kernel starts (BadInput: exit 2),
    and refuse an unknown member of a one-member report (:func:`workbook.members.check`).

    ``revalidate`` validates even when the source's validation receipt is current (the notebooks
    then reuse the receipt this validation leaves). ``members=(each, as_of, engine)`` with
    ``each`` set returns :func:`batch_members` of the open source; otherwise returns None.
    ``also`` lists more ``(name, parameters)`` reading the same source (checked, not validated again).
    """
    from .members import check as check_member
    from .workspace import open_data

    path = resolve_data(data)
    _say(progress, f"{name}: validating {path}")
    ws = open_data(path, revalidate=True) if revalidate else open_data(path)
    try:
        for checked, values in [(name, parameters), *also]:
            check_member(checked, ws, dict(values or {}))
        if ws.warnings:
            _say(progress, f"{name}: {len(ws.warnings)} validation warning(s), listed in the report's data-quality "
                           "section")
        if members is not None and members[0] is not None:
            _say(progress, f"{name}: listing the members (--each {members[0]})")
            return batch_members(ws, members[0], members[1], members[2])
        return None
    finally:
        ws.close()


def parse_parameter(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` from the command line as ``(key, value)``; VALUE is read as YAML.

    So ``n=3`` is an int, ``flag=true`` a bool, ``x=null`` None, ``ids=[a, b]`` a list, and a
    date stays the string ``"2024-06-30"``; digits with a leading zero (``00123``) stay text.
    """
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise BadInput("-p", None, f"expected KEY=VALUE with KEY a Python name, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, dict) and not raw.lstrip().startswith("{"):
        value = raw  # "note=a: b" is text, not a mapping
    if isinstance(value, (int, float)) and not isinstance(value, bool) and re.fullmatch(r"[+-]?0\d+", raw.strip()):
        value = raw.strip()  # "account_id=00123" is an id, not the number 123 (or YAML 1.1's octal 83)
    from .iofmt import jsonable
    return key, jsonable(value)


def notebook_path(name: str, notebook_dir: str | os.PathLike = "notebooks") -> Path:
    """``notebook_dir/<name>.ipynb`` (relative dirs: under the current directory, else the repository)."""
    if not _NAME_RE.match(name or ""):
        raise BadInput("NAME", None, f"report name {name!r} must be letters, digits, '_', '-' or '.'")
    candidates = [Path(notebook_dir)]
    if not Path(notebook_dir).is_absolute():
        candidates.append(_PACKAGE_ROOT / notebook_dir)
    for directory in candidates:
        path = directory / f"{name}.ipynb"
        if path.is_file():
            return path
    known = sorted({p.stem for d in candidates if d.is_dir() for p in d.glob("*.ipynb")})
    raise BadInput("NAME", None, f"no report notebook {name}.ipynb in {candidates[0]} "
                   f"(reports there: {', '.join(known) or 'none'})")


def notebook_parameters(path: str | os.PathLike) -> dict[str, str]:
    """The names assigned in the notebook's ``parameters``-tagged cell, with their source text."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell.get("source", []))
            found: dict[str, str] = {}
            try:
                body = ast.parse(source).body
            except SyntaxError as exc:
                raise BadInput(str(path), "parameters",
                               f"the parameters cell is not plain Python ({exc.msg})") from None
            for node in body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                for target in targets:
                    if isinstance(target, ast.Name) and getattr(node, "value", None) is not None:
                        found[target.id] = ast.get_source_segment(source, node.value) or ""
            return found
    return {}


def refresh_index(out: str | os.PathLike = "reports") -> Path:
    """Rewrite ``out/index.html``: every report under ``out``, per name, newest ``as_of`` first."""
    out = Path(out)
    groups: dict[str, list[dict[str, Any]]] = {}
    for report_dir in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if out.is_dir() else []:
        name = report_dir.name
        rows = []
        for run_dir in (p for p in report_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            row = _index_row(run_dir, name)
            members = _index_members(run_dir, name)
            if row is not None or members:
                rows.append({**(row or {"html": None, "ipynb": None, "failed": None}), "as_of": run_dir.name,
                             "members": members})
        if rows:
            groups[name] = sorted(rows, key=lambda r: (bool(_DATE_DIR.match(r["as_of"])), r["as_of"]),
                                  reverse=True)
    path = out / "index.html"
    from .iofmt import atomic_write
    atomic_write(path, _index_html(groups, out))
    return path


def _index_row(folder: Path, name: str) -> dict[str, Any] | None:
    """The page, executed notebook and kept failed notebook of ``name`` in ``folder`` (None: neither
    a page nor a failure)."""
    page, executed, failed = folder / f"{name}.html", folder / f"{name}.ipynb", folder / f"{name}.failed.ipynb"
    if not (page.is_file() or failed.is_file()):
        return None
    return {"html": page if page.is_file() else None, "ipynb": executed if executed.is_file() else None,
            "failed": failed if failed.is_file() else None}


def _index_members(run_dir: Path, name: str) -> list[dict[str, Any]]:
    """The batch members under ``run_dir`` (``<as_of>/<slug>/``), named from ``members.json``."""
    names = _read_members(run_dir)
    found = []
    for folder in run_dir.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            row = _index_row(folder, name)
            if row is not None:
                found.append({**row, "member": names.get(folder.name, folder.name)})
    return sorted(found, key=lambda r: r["member"].lower())


# --------------------------------------------------------------------------------------------
# Rendering


def _render(name: str, kernel: "_Kernel", *, notebook_dir, data, as_of, parameters, out,
            progress: Progress | None, member: str | None = None, refresh: bool = True) -> RenderResult:
    started = time.monotonic()
    sub = (member_slug(member),) if member is not None else ()
    source = notebook_path(name, notebook_dir)
    explicit = iso_date(as_of, "--as-of") if as_of is not None else None
    merged = _merged_parameters(name, source, data, explicit, parameters)
    report_dir = Path(out) / name
    report_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(report_dir, name)
    staging = _temp_path(report_dir, f".{name}.{os.getpid()}.", ".running.ipynb")
    run_id = f"{os.getpid()}-{time.time_ns()}"
    try:
        nb = _execute(name, source, staging, merged, kernel, progress)
        recorded = read_record(nb)
        folder = explicit or merged.get("as_of") or _safe_date(recorded.get("as_of"))
        if not folder:
            raise _NoAsOf("the notebook did not call workbook.report.record(as_of=...) and no --as-of was given")
        _say(progress, f"{name}: rendering HTML")
        page = _to_html(nb, name, folder, source.parent, progress, run_id=run_id)
        target_dir = report_dir.joinpath(folder, *sub)
        target_dir.mkdir(parents=True, exist_ok=True)
        nb.metadata["workbook"] = {"record": recorded, "parameters": merged, "as_of": folder, "run": run_id}
        nb.metadata.setdefault("papermill", {})["output_path"] = str(target_dir / f"{name}.ipynb")
        result = _publish(name, target_dir, nb, page)
    except BaseException as exc:
        failure = _failure(name, exc, staging, report_dir, explicit, merged, kernel, sub)
        if failure is None:
            raise
        if refresh:
            _refresh_index_quietly(out)
        raise failure from exc
    finally:
        if staging.exists():
            staging.unlink()
    if refresh:
        refresh_index(out)
    seconds = time.monotonic() - started
    _say(progress, f"{name}: wrote {result[0]} ({seconds:.1f} s)")
    return RenderResult(name=name, as_of=folder, html=result[0], notebook=result[1], parameters=merged,
                        record=recorded, seconds=seconds, member=member)


class _NoAsOf(Exception):
    """Executed, but nothing says which date the report is for."""


class _NotSelfContained(Exception):
    """The HTML would load something from the network or show an image without alt text."""


def _refresh_index_quietly(out) -> None:
    """Refresh the index after a failure so it shows the kept notebook; never mask the failure."""
    try:
        refresh_index(out)
    except OSError:
        pass


def _publish(name: str, target_dir: Path, nb, page: str) -> tuple[Path, Path]:
    """Write the HTML and the executed notebook into ``target_dir`` as one pair.

    Each file is written to a temp file first and renamed into place, and both renames happen
    under an exclusive lock on ``target_dir``: two runs of the same report finishing at the same
    moment publish one after the other, so the page and the notebook always come from one run
    (both carry the same run id: ``<meta name="workbook-run">`` and ``metadata.workbook.run``).
    """
    import nbformat

    from .iofmt import temp_file

    html_path, nb_path = target_dir / f"{name}.html", target_dir / f"{name}.ipynb"
    temps: list[Path] = []
    try:
        temps.append(temp_file(target_dir, html_path.name, page))
        temps.append(temp_file(target_dir, nb_path.name, nbformat.writes(nb)))
        with _locked(target_dir):
            os.replace(temps[1], nb_path)
            os.replace(temps[0], html_path)
            (target_dir / f"{name}.failed.ipynb").unlink(missing_ok=True)  # stale after a good run
    finally:
        for temp in temps:  # gone after a successful rename
            temp.unlink(missing_ok=True)
    return html_path, nb_path


@contextlib.contextmanager
def _locked(directory: Path):
    """An exclusive ``flock`` on the directory itself (no lock file is left behind)."""
    import fcntl

    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove_stale_staging(report_dir: Path, name: str) -> None:
    """Remove ``.NAME.PID.*.running.ipynb`` files left by runs that were killed (their PID is gone)."""
    for path in report_dir.glob(f".{name}.*.running.ipynb"):
        pid = path.name[len(name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _failure(name, exc, staging: Path, report_dir: Path, explicit, merged, kernel,
             sub: tuple[str, ...] = ()) -> ReportFailed | None:
    """Keep the failed notebook and describe the failure; None for interrupts (re-raised as is)."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        return None
    if isinstance(exc, ReportFailed):
        return exc
    try:
        from papermill.exceptions import PapermillExecutionError
    except ImportError:  # pragma: no cover
        PapermillExecutionError = ()  # noqa: N806
    nb = _read_notebook(staging)
    folder = explicit or _safe_date(merged.get("as_of")) or _safe_date(read_record(nb).get("as_of") if nb else None)
    kept = None
    if staging.exists():
        kept_dir = report_dir.joinpath(folder or "unknown", *sub)
        kept_dir.mkdir(parents=True, exist_ok=True)
        kept = kept_dir / f"{name}.failed.ipynb"
        os.replace(staging, kept)
    if isinstance(exc, PapermillExecutionError):
        return ReportFailed(name, ename=exc.ename, evalue=exc.evalue, exec_count=exc.exec_count,
                            cell_index=_source_index(nb, exc.cell_index), failed_notebook=kept,
                            traceback=exc.traceback)
    index = kernel.current_cell
    ename = {_NoAsOf: "NoAsOf", _NotSelfContained: "NotSelfContained"}.get(type(exc), type(exc).__name__)
    return ReportFailed(name, ename=ename, evalue=str(exc), failed_notebook=kept,
                        cell_index=_source_index(nb, index) if index is not None else None)


def _source_index(nb, executed_index: int | None) -> int | None:
    """Map a cell index of the executed notebook to the source notebook (skip injected cells)."""
    if executed_index is None or nb is None:
        return executed_index
    cells = [c for c in nb.cells if _ERROR_MARKER_TAG not in c.get("metadata", {}).get("tags", [])]
    injected = sum(1 for c in cells[:executed_index] if _INJECTED_TAG in c.get("metadata", {}).get("tags", []))
    return executed_index - injected


def _read_notebook(path: Path):
    if not path.exists() or path.stat().st_size == 0:
        return None
    import nbformat
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - a half-written notebook is just not there
        return None


def _merged_parameters(name: str, source: Path, data, as_of: str | None, parameters) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    defaults = defaults_path(name)
    if defaults.is_file():
        from .params import read_yaml
        merged.update(read_yaml(defaults))
    merged.update(parameters or {})
    if data is not None:
        merged["data"] = os.fspath(data)
    if as_of is not None:
        merged["as_of"] = as_of
    from .iofmt import jsonable
    merged = {key: jsonable(value) for key, value in merged.items()}
    if merged.get("as_of") is not None:
        merged["as_of"] = iso_date(merged["as_of"], "as_of")
    known = notebook_parameters(source)
    unknown = sorted(set(merged) - set(known))
    if unknown:
        where = f"{source} has no parameter" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown)
        raise BadInput("-p", None, f"{where} (its parameters: {', '.join(known) or 'none'})")
    return merged


def defaults_path(name: str) -> Path:
    """The file holding report ``name``'s default parameters.

    ``params/<name>_report.yaml`` when it exists (for a report whose name is already taken by a
    module's settings file: ``params/calibration.yaml`` holds the calibration settings, so the
    calibration report's defaults are in ``params/calibration_report.yaml``), else
    ``params/<name>.yaml``. Plain papermill takes the same file with ``-f``.
    """
    from .params import params_dir
    directory = params_dir()
    own = directory / f"{name}_report.yaml"
    return own if own.is_file() else directory / f"{name}.yaml"


# --------------------------------------------------------------------------------------------
# Execution


def _execute(name: str, source: Path, staging: Path, parameters: dict, kernel: "_Kernel",
             progress: Progress | None):
    import papermill

    _register_engine()
    kernel.current_cell = None
    nb = papermill.execute_notebook(
        str(source), str(staging), parameters=parameters or None, engine_name=ENGINE_NAME,
        kernel_name=kernel.kernel_name, language="python", progress_bar=False,
        request_save_on_cell_execute=True, workbook_kernel=kernel,
    )
    kernel.current_cell = None  # later failures (rendering, writing) are not in a cell
    return nb


class _Kernel:
    """One Jupyter kernel, started on entry and used for every notebook run inside the block.

    The kernel runs in the current directory with this package importable (its parent directory
    is put first on ``PYTHONPATH``) and with matplotlib's backend left to ipykernel (inline).

    It talks over the ``ipc`` transport (Unix sockets) inside a private directory made for it, not
    over TCP: jupyter_client picks free TCP ports, releases them and the kernel binds them later,
    so two kernels started at the same moment (a scheduler firing several reports, a parallel
    test run) could pick the same port and one would die with "Address already in use". Socket
    files in a directory no other kernel uses cannot collide. The same directory is the kernel's
    ``TMPDIR``, so whatever the notebook leaves in the temp directory (DuckDB's spill folder of a
    workspace that was never closed) goes when the kernel stops, and a directory left by a process
    that was killed is removed by the next run.
    """

    def __init__(self, kernel_name: str, *, progress: Progress | None = None, label: str = "report"):
        self.kernel_name = kernel_name
        self.progress = progress
        self.label = label
        self.km = None
        self.runs = 0
        self.current_cell: int | None = None
        self.home: str | None = None

    def __enter__(self) -> "_Kernel":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def ensure_started(self):
        if self.km is None:
            from jupyter_client.manager import AsyncKernelManager
            from jupyter_core.utils import run_sync

            _say(self.progress, f"{self.label}: starting kernel {self.kernel_name}")
            _remove_stale_homes()
            self.home = tempfile.mkdtemp(prefix=f"{_KERNEL_HOME_PREFIX}{os.getpid()}-")
            km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                    ip=os.path.join(self.home, "k"),
                                    connection_file=os.path.join(self.home, "kernel.json"), **_encryption())
            try:
                run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"],
                                          cwd=os.getcwd(), env=_kernel_env(self.home))
            except BaseException:
                self._remove_home()
                raise
            self.km = km
        return self.km

    def restart_if_dead(self) -> None:
        """After a failure: if the kernel died, stop it so the next run starts a new one."""
        if self.km is not None:
            from jupyter_core.utils import run_sync
            try:
                alive = run_sync(self.km.is_alive)()
            except Exception:  # noqa: BLE001 - a kernel we cannot ask about is treated as dead
                alive = False
            if not alive:
                _say(self.progress, f"{self.label}: the kernel died; a new one starts for the next report")
                self.close()
                self.runs = 0

    def close(self) -> None:
        try:
            if self.km is not None:
                from jupyter_core.utils import run_sync
                km, self.km = self.km, None
                try:
                    run_sync(km.shutdown_kernel)(now=True)
                finally:
                    run_sync(km.cleanup_resources)()
        finally:
            self._remove_home()

    def _remove_home(self) -> None:
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None


_KERNEL_HOME_PREFIX = "workbook-kernel-"


def _remove_stale_homes() -> None:
    """Remove kernel directories left in the temp directory by workbook processes that are gone."""
    root = Path(tempfile.gettempdir())
    for path in root.glob(f"{_KERNEL_HOME_PREFIX}*-*"):
        pid = path.name[len(_KERNEL_HOME_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _encryption() -> dict[str, str]:
    """Encrypt kernel traffic (CurveZMQ) when pyzmq can and the kernelspec supports it."""
    import zmq
    return {"transport_encryption": "auto"} if zmq.has("curve") else {}


def _kernel_env(home: str) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = home  # temp files of the kernel go with the kernel's own directory
    env["WORKBOOK_SHARE_RESULTS"] = "1"  # reports in this kernel share workspace and results (reporting.py)
    env.pop("MPLBACKEND", None)  # let ipykernel pick the inline backend, as in JupyterLab
    if _PACKAGE_ROOT.name not in ("site-packages", "dist-packages"):  # a source checkout
        path = [str(_PACKAGE_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    return env


_ENGINE_REGISTERED = False


def _register_engine() -> None:
    """Register the papermill engine that runs notebooks in a :class:`_Kernel` with progress lines."""
    global _ENGINE_REGISTERED
    if _ENGINE_REGISTERED:
        return
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    class Client(PapermillNotebookClient):
        def __init__(self, nb_man, *, workbook_kernel: _Kernel, **kw):
            super().__init__(nb_man, km=workbook_kernel.ensure_started(), **kw)
            self._wb = workbook_kernel
            self._code = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code" and c.source.strip()]
            self.on_cell_execute = self._on_cell_execute

        def _on_cell_execute(self, cell, cell_index, **_):
            self._wb.current_cell = cell_index
            number = self._code.index(cell_index) + 1 if cell_index in self._code else cell_index + 1
            _say(self._wb.progress, f"{self._wb.label}: executing cell {number}/{len(self._code)}")

        def papermill_execute_cells(self):
            if self._wb.runs:
                # A reused kernel: start from an empty namespace and execution count 1.
                self.wait_for_reply(self.kc.execute(
                    "get_ipython().reset(new_session=True)\nimport matplotlib.pyplot as _plt\n"
                    "_plt.close('all')\ndel _plt", silent=True, store_history=False))
            self._wb.runs += 1
            super().papermill_execute_cells()

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            client = Client(nb_man, workbook_kernel=kwargs["workbook_kernel"], kernel_name=kernel_name,
                            log=logger, log_output=log_output, stdout_file=stdout_file,
                            stderr_file=stderr_file, startup_timeout=start_timeout, timeout=execution_timeout)
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register(ENGINE_NAME, Engine)
    _ENGINE_REGISTERED = True


# --------------------------------------------------------------------------------------------
# HTML


_TEMPLATE_NAME = "workbook-report.html.j2"
# The lab template minus everything that would load from the network (require.js, MathJax,
# mermaid, the widgets manager), with alt text on embedded images.
_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">
main { max-width: 1100px; margin: 0 auto; padding: 1.5em 1em 3em; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
</style>
{%- endblock html_head_css -%}
{%- macro wb_img(output, mime, extra_class) -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:{{ mime }};base64,{{ output.data[mime] | escape_html }}"
 alt="{{ output | get_metadata('alt', mime) | escape_html }}"
{%- set width = output | get_metadata('width', mime) -%}
{%- if width is not none %} width="{{ width | escape_html }}"{%- endif %}
{%- set height = output | get_metadata('height', mime) -%}
{%- if height is not none %} height="{{ height | escape_html }}"{%- endif %}>
</div>
{%- endmacro -%}
{% block data_png scoped %}{{ wb_img(output, 'image/png', extra_class) }}{% endblock data_png %}
{% block data_jpg scoped %}{{ wb_img(output, 'image/jpeg', extra_class) }}{% endblock data_jpg %}
"""

_REMOTE = re.compile(
    r"""(?:\b(?:src|href|srcset|action|poster|data|xlink:href)\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+["']\s*)"""
    r"""((?:https?:|ftp:|wss?:)?//[^\s"'<>)]*)""",
    re.IGNORECASE,
)
# CSS comments in the inlined JupyterLab styles cite web pages; they load nothing but are dropped
# so that the page contains no URL at all.
_STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.IGNORECASE | re.DOTALL)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def _to_html(nb, name: str, as_of: str, source_dir: Path, progress: Progress | None = None, *,
             run_id: str | None = None) -> str:
    """The executed notebook as one self-contained HTML page without code."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})], template_file=_TEMPLATE_NAME,
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True,
        theme="light",
    )
    resources = {"metadata": {"name": name, "path": str(source_dir)}}
    shown = _for_html(nb, f"{name} — {as_of}")
    undescribed = sum(1 for c in shown.cells for o in c.get("outputs", []) for meta in o.get("metadata", {}).values()
                      if isinstance(meta, dict) and meta.get("alt") == _NO_ALT)
    if undescribed:
        _say(progress, f"{name}: warning: {undescribed} image(s) without alt text; show figures with plots.show()")
    body, _ = exporter.from_notebook_node(shown, resources=resources)
    body = _STYLE.sub(lambda m: m.group(1) + _CSS_COMMENT.sub("", m.group(2)) + m.group(3), body)
    if run_id is not None:
        body = body.replace("<head>", f'<head>\n<meta name="workbook-run" content="{html.escape(run_id)}">', 1)
    problems = audit_html(body)
    if problems:
        raise _NotSelfContained("; ".join(problems[:5]))
    return body


def _for_html(nb, title: str):
    """A copy to render: without record outputs, stderr streams and cells that show nothing."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if _ERROR_MARKER_TAG in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if _shown(o)]
            for output in cell.outputs:
                _ensure_alt(output)
            if not cell.outputs:
                continue
        elif cell.cell_type == "raw":
            continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata["title"] = title
    return nb


def _shown(output) -> bool:
    if output.get("output_type") == "stream":
        return output.get("name") != "stderr"
    return RECORD_MIME not in output.get("data", {})


def _ensure_alt(output) -> None:
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            meta = output.setdefault("metadata", {}).setdefault(mime, {})
            if not str(meta.get("alt", "")).strip():
                text = str(data.get("text/plain", "")).strip()
                meta["alt"] = text if text and not text.startswith("<") else _NO_ALT


def audit_html(page: str) -> list[str]:
    """Problems that break the report contract: remote references and images without alt text."""
    problems = [f"remote reference {m.group(1)!r}" for m in _REMOTE.finditer(page)]
    for tag in _IMG.findall(page):
        match = _ALT.search(tag)
        if not match or not (match.group(1) or match.group(2) or "").strip():
            problems.append(f"image without alt text: {tag[:80]}...")
    return problems


def _index_html(groups: dict[str, list[dict[str, Any]]], out: Path) -> str:
    def link(path: Path | None, text: str) -> str:
        if path is None:
            return ""
        href = quote(path.relative_to(out).as_posix())
        return f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>'

    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">', "<title>Reports</title>",
        "<style>body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:900px;"
        "margin:2em auto;padding:0 1em;color:#222}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em}"
        "table{border-collapse:collapse}td,th{padding:4px 14px 4px 0;text-align:left;"
        "border-bottom:1px solid #ddd}.failed{color:#CC3311}</style>",
        "</head>", "<body>", "<h1>Reports</h1>",
    ]
    if not groups:
        parts.append("<p>No reports yet.</p>")
    for name, rows in groups.items():
        parts.append(f'<h2 id="{html.escape(name, quote=True)}">{html.escape(name)}</h2>')
        parts.append('<table><thead><tr><th scope="col">as of</th><th scope="col">report</th>'
                     '<th scope="col">notebook</th><th scope="col">note</th></tr></thead><tbody>')
        for row in rows:
            note = ""
            if row["failed"] is not None:
                note = f'<span class="failed">last run failed: {link(row["failed"], "failed notebook")}</span>'
            if row["html"] is not None or row["failed"] is not None:
                parts.append(
                    f"<tr><td>{html.escape(row['as_of'])}</td><td>{link(row['html'], 'report')}</td>"
                    f"<td>{link(row['ipynb'], 'executed notebook')}</td><td>{note}</td></tr>")
            if row.get("members"):
                parts.append(f"<tr><td>{html.escape(row['as_of'])}</td><td colspan=\"3\">"
                             f"{_member_list(row['members'], link)}</td></tr>")
        parts.append("</tbody></table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _member_list(members: list[dict[str, Any]], link) -> str:
    """A batch's members in one index cell: how many (and how many failed), then one line each."""
    failed = sum(1 for m in members if m["failed"] is not None)
    summary = f"{len(members)} member{'s' if len(members) != 1 else ''}" + (f", {failed} failed" if failed else "")
    items = []
    for m in members:
        links = [t for t in (link(m["html"], "report"), link(m["ipynb"], "executed notebook")) if t]
        if m["failed"] is not None:
            links.append(f'<span class="failed">last run failed: {link(m["failed"], "failed notebook")}</span>')
        items.append(f"<li>{html.escape(m['member'])}: {' · '.join(links)}</li>")
    return f"<details open><summary>{summary}</summary><ul class=\"members\">{''.join(items)}</ul></details>"


# --------------------------------------------------------------------------------------------
# Small helpers


def iso_date(value, what: str = "as_of") -> str:
    """``value`` as ``YYYY-MM-DD`` by :func:`workbook.periods.parse_day` (the one strict reading of a
    day a person gives: exactly ``YYYY-MM-DD`` text or a date object, 1900-01-01 .. 2199-12-31)."""
    from .periods import parse_day
    return parse_day(value, what).strftime("%Y-%m-%d")


def _safe_date(value) -> str | None:
    try:
        return iso_date(value) if value else None
    except BadInput:
        return None


def _temp_path(directory: Path, prefix: str, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.close(fd)
    return Path(name)


def _say(progress: Progress | None, line: str) -> None:
    if progress is not None:
        progress(line)


__all__ = ["EACH", "RECORD_MIME", "SCHEDULED", "BatchResult", "Job", "ReportFailed", "RenderResult", "audit_html",
           "backfill", "backfill_dates", "batch_members", "defaults_path", "expand_names", "iso_date", "member_slug",
           "notebook_parameters", "notebook_path", "parse_parameter", "plan", "prepare", "read_record", "record",
           "recorded_values", "refresh_index", "render", "render_batch", "resolve_data"]
