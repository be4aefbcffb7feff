"""Writing tables for people: CSV that is safe to open in a spreadsheet, JSON, aligned text.

CSV written for people (``workbook health --format csv``, ``workbook kpis --format csv``, the
calibration CSVs) goes through :func:`write_csv`:

- a **text** cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
  leading single quote ``'``, so Excel, LibreOffice and Google Sheets show it as text instead of
  running it as a formula ("CSV injection"). Numbers are never changed: ``-3.5`` in a number
  column stays a number. ``raw=True`` (the command line's ``--raw``) writes text unchanged;
- a cell holding a comma, a double quote, a line feed or a carriage return is quoted, so a
  stray carriage return inside a name can never split a record;
- records end with ``\\n``; dates are written ``YYYY-MM-DD``; empty cells are nulls.

Every file the package writes whole goes through :func:`atomic_write` (or :func:`temp_file` when
several files are published together): a temporary file beside the target, flushed to disk,
then renamed into place, so a reader never sees half a file. JSON text comes from
:func:`to_json`, whose values are made JSON-able by :func:`jsonable` (also what papermill gets
as report parameters). Printing tables to the terminal is the command line's job (``cli.py``).
"""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralise", "write_csv", "csv_text", "jsonable", "to_json", "atomic_write",
           "temp_file", "new_file_mode"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_QUOTE_IF = (",", '"', "\n", "\r")


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _cell(value, raw: bool) -> str:
    """One CSV cell: numbers as pandas writes them, dates as YYYY-MM-DD, text neutralised."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, np.datetime64)):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    text = str(value)
    return text if raw else neutralise(text)


def _field(text: str) -> str:
    if any(ch in text for ch in _QUOTE_IF):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(df: pd.DataFrame, path_or_buf: str | os.PathLike | IO[str], *, raw: bool = False) -> None:
    """Write ``df`` (without its index) as CSV to a path or an open text stream.

    Text cells that a spreadsheet would run as a formula are prefixed with ``'`` unless
    ``raw=True``; see the module docstring for the exact rules. A path is written atomically
    (a temporary file beside it, then renamed).
    """
    if isinstance(path_or_buf, (str, os.PathLike)):
        atomic_write(path_or_buf, csv_text(df, raw=raw))
        return
    out = path_or_buf
    out.write(",".join(_field(_cell(str(c), raw)) for c in df.columns) + "\n")
    for row in df.itertuples(index=False, name=None):
        out.write(",".join(_field(_cell(v, raw)) for v in row) + "\n")


def csv_text(df: pd.DataFrame, *, raw: bool = False) -> str:
    """:func:`write_csv` into a string."""
    buf = io.StringIO()
    write_csv(df, buf, raw=raw)
    return buf.getvalue()


def jsonable(value, *, strict: bool = False):
    """``value`` as plain JSON-able Python: the one rule for JSON output and report parameters.

    None, NaN, ``pd.NA`` and ``NaT`` become None; a pandas ``Timestamp`` (a table's date cell)
    its day ``YYYY-MM-DD``; a ``datetime`` its day at midnight, else its ISO text; a ``date`` ISO
    text; mappings and sequences are converted item by item (keys as text); a path its text; a
    numpy scalar the Python one; anything else its ``str``. Infinities stay (a report parameter
    ``-p n=.inf`` reaches the notebook, which refuses it by name) unless ``strict`` (JSON text,
    which has no infinity: None).
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or (strict and math.isinf(value)) else value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value == dt.datetime.combine(value.date(), dt.time()) \
            else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, strict=strict) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v, strict=strict) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item(), strict=strict)
    return str(value)


def to_json(obj) -> str:
    """JSON text (indented, UTF-8 kept) of ``obj`` made JSON-able by ``jsonable(obj, strict=True)``."""
    return json.dumps(jsonable(obj, strict=True), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------- writing files whole
def umask() -> int:
    """The process umask, read without changing it where the system allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def new_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give: 0666 less the umask (0644 under umask 022)."""
    return 0o666 & ~umask()


def temp_file(directory: str | os.PathLike, final_name: str, payload: str | bytes, *,
              mode: int | None = None) -> Path:
    """``payload`` (text is written as UTF-8) in a hidden temporary file ``.<final_name>.*.tmp``
    in ``directory``, flushed to disk, with ``mode`` (default :func:`new_file_mode`).

    The caller renames it into place (``os.replace``) and removes it if it does not.
    """
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    fd, name = tempfile.mkstemp(prefix=f".{final_name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, new_file_mode() if mode is None else mode)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def atomic_write(path: str | os.PathLike, data: str | bytes, *, exclusive: bool = False,
                 mode: int | None = None) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, then a rename.

    ``mode`` defaults to the replaced file's own mode, or for a new file 0666 less the umask
    (what ``open`` would give). ``exclusive=True`` creates ``path`` only if it does not exist
    (a hard link, atomic): an existing file is never overwritten and raises ``FileExistsError``.
    The parent folder is created when missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if not exclusive and path.exists() else new_file_mode()
    tmp = temp_file(path.parent, path.name, data, mode=mode)
    try:
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_dir(out: str | os.PathLike, texts: Mapping[str, str]) -> None:
    """Write ``texts`` (file name → text, UTF-8 exactly as given) as the folder ``out``, as one set.

    The files are written into a new sibling folder (``.NAME.tmp-XXXX``) which then replaces
    ``out`` in one rename (the old folder is renamed aside first and removed after), so a crash
    leaves either the old set or the new one, never a mix. Other files already in ``out`` are
    carried over. Files and folder get the usual permissions (0666/0777 less the umask).
    """
    import shutil
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    mask = umask()
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    aside, carried = None, []
    try:
        os.chmod(stage, 0o777 & ~mask)
        for name, text in texts.items():
            with open(stage / name, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            os.chmod(stage / name, 0o666 & ~mask)
        if out.is_dir():
            for extra in out.iterdir():            # files someone else put in the folder stay
                if extra.name not in texts:
                    os.rename(extra, stage / extra.name)
                    carried.append(extra.name)
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, aside / "set")
        os.rename(stage, out)
    except BaseException:
        if aside is not None and (aside / "set").exists() and not out.exists():
            os.rename(aside / "set", out)          # put the old set back
        for name in carried:
            if (stage / name).exists() and out.is_dir():
                os.rename(stage / name, out / name)
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
