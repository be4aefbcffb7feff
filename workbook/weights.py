"""Versioned health weights: ``params/weights/vN.yaml`` and the active pointer in ``params/health.yaml``.

A weights file holds ``weights`` (five non-negative integers summing to 100, one per dimension)
and ``thresholds`` (``green`` > ``amber``, both within 0..100), plus optional metadata. A file
that breaks this is refused with :class:`BadInput` (exit code 2 on the command line).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import math
import os
import re
import socket
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import scoring
from .errors import BadInput
from .iofmt import atomic_write
from .params import params_dir, read_yaml
from .scoring import DIMENSIONS

VERSION_RE = re.compile(r"^v(\d+)\.yaml$")


@dataclass(frozen=True)
class Weights:
    """A validated weights version: integer weights summing to 100 and colour thresholds."""

    weights: dict[str, int]
    green: float
    amber: float
    version: str | None = None
    path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    onboarding: dict[str, int] | None = None   # weights for accounts still onboarding; None: ``weights``

    def for_onboarding(self) -> dict[str, int]:
        """The weights that score accounts still onboarding: the file's ``onboarding.weights``
        section, or the main weights when the file has none (docs/health.md)."""
        return self.onboarding if self.onboarding is not None else self.weights

    def colour(self, score: float) -> str:
        """``green`` at or above the green threshold, ``amber`` at or above amber, else ``red``."""
        return scoring.colour(score, self.green, self.amber)

    @property
    def label(self) -> str:
        return self.version or (Path(self.path).name if self.path else "custom")


def validate(data: dict[str, Any], source: str = "weights") -> Weights:
    """Check a parsed weights mapping and return :class:`Weights`; raise :class:`BadInput` if wrong.

    An optional ``onboarding: {weights: {...}}`` section gives the weights of accounts still
    onboarding (same five dimensions, same rules); without it they use ``weights``."""
    clean = _five(data.get("weights"), source, "weights")
    onboarding = data.get("onboarding")
    if onboarding is not None:
        if not isinstance(onboarding, dict) or set(onboarding) != {"weights"}:
            raise BadInput(source, "onboarding", "must be a mapping with one key, weights (the five dimensions' "
                           "weights for accounts still onboarding)")
        onboarding = _five(onboarding["weights"], source, "onboarding.weights")
    t = data.get("thresholds")
    if not isinstance(t, dict) or "green" not in t or "amber" not in t:
        raise BadInput(source, "thresholds", "must give green and amber")
    if any(isinstance(t[k], bool) or not isinstance(t[k], (int, float)) for k in ("green", "amber")):
        raise BadInput(source, "thresholds", "green and amber must be numbers")
    green, amber = float(t["green"]), float(t["amber"])
    if not (0 <= amber < green <= 100):
        raise BadInput(source, "thresholds", f"must satisfy 0 <= amber < green <= 100, got amber {amber:g}, "
                       f"green {green:g}")
    meta = {k: v for k, v in data.items() if k not in ("weights", "thresholds", "onboarding")}
    version = meta.get("version")
    return Weights(clean, green, amber, version=f"v{version}" if isinstance(version, int) else version,
                   path=source, meta=meta, onboarding=onboarding)


def _five(w: Any, source: str, where: str) -> dict[str, int]:
    """The five dimensions' weights at ``where``: whole numbers >= 0 summing to 100."""
    if not isinstance(w, dict):
        raise BadInput(source, where, "must be a mapping of the five dimensions to integer weights")
    unknown = sorted(set(w) - set(DIMENSIONS))
    missing = [d for d in DIMENSIONS if d not in w]
    if unknown:
        raise BadInput(source, where, f"unknown dimension(s) {', '.join(map(str, unknown))}: "
                       f"use {', '.join(DIMENSIONS)}")
    if missing:
        raise BadInput(source, where, f"missing dimension(s) {', '.join(missing)}")
    clean = {}
    for d in DIMENSIONS:
        v = w[d]
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise BadInput(source, f"{where}.{d}", f"must be a whole number, got {v!r}")
        if v < 0:
            raise BadInput(source, f"{where}.{d}", f"must be >= 0, got {v}")
        clean[d] = v
    total = sum(clean.values())
    if total != 100:
        raise BadInput(source, where, f"must sum to 100, they sum to {total}")
    return clean


def load(path: str | Path) -> Weights:
    """Read and validate one weights file."""
    path = Path(path)
    w = validate(read_yaml(path), str(path))
    if w.version is None:
        m = VERSION_RE.match(path.name)
        if m:
            w = Weights(w.weights, w.green, w.amber, version=f"v{m.group(1)}", path=str(path), meta=w.meta,
                        onboarding=w.onboarding)
    return w


def weights_dir() -> Path:
    return params_dir() / "weights"


def active_version() -> str:
    """The version named by ``params/health.yaml`` (``active_weights``), e.g. ``v1``."""
    cfg = read_yaml(params_dir() / "health.yaml")
    version = cfg.get("active_weights")
    if not isinstance(version, str) or not VERSION_RE.match(version + ".yaml"):
        raise BadInput(str(params_dir() / "health.yaml"), "active_weights", "must name a version such as v1")
    return version


def load_active() -> Weights:
    """The active weights version."""
    return load(weights_dir() / f"{active_version()}.yaml")


def resolve(path: str | Path | None = None) -> Weights:
    """``--weights FILE`` for one run when given, else the active version."""
    return load(path) if path else load_active()


# ---------------------------------------------------------------------------- governance
# Only `workbook weights adopt` creates a version. Under an exclusive lock on params/weights/ it
# checks everything first (proposal, pointer, parent, change log), then writes the next vN.yaml
# (never overwriting one), rewrites CHANGELOG.md with one more entry (carrying the file's sha256,
# so `weights list` can show whether a version was edited afterwards) and moves `active_weights`
# in params/health.yaml. If a later step fails, the earlier ones are undone.
CHANGELOG_HEADER = """# Health weights change log

One entry per adopted version of `params/weights/vN.yaml`, oldest first. Entries are appended by
`workbook weights adopt FILE --reason TEXT`; never edit an adopted version or an entry. To roll
back, adopt the older file again: it becomes a new version with its own reason.
"""
LOCK_NAME = ".adopt.lock"
LOCK_TIMEOUT_SECONDS = 30.0           # how long `adopt` waits for another adoption to finish
_ACTIVE_RE = re.compile(r"^(active_weights:[ \t]*)(\S+)(.*)$", re.MULTILINE)
_SHA_RE = re.compile(r"^## (v\d+)\b.*?^- file: \S+ \(sha256 ([0-9a-f]{64})\)", re.MULTILINE | re.DOTALL)
_HEADING_RE = re.compile(r"^## (v\d+)\b", re.MULTILINE)
# The machine-readable record that ends every entry. Copied text is always a single line behind
# a prefix ("- reason: ..."), so nothing taken from a proposal can start a line like this one.
_RECORD_PREFIX = "<!-- workbook-weights "
_RECORD_RE = re.compile(r"^<!-- workbook-weights (\{[^\n]*\}) -->[ \t]*$", re.MULTILINE)
# Set by `adopt` itself; a proposal's own values for these keys are never copied.
_SET_BY_ADOPT = ("version", "adopted_at", "reason", "parent", "adopted_from", "calibrated_against", "forced",
                 "sha256", "status")
_COUNTS = {"horizon_days": 1, "n_train": 0, "n_test": 0, "n_pending": 0}    # key: smallest value
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
MAX_TEXT = 1000                       # characters in one copied text field
MAX_DEPTH = 6


def versions() -> list[str]:
    """The adopted versions in params/weights/, in order: ``["v1", "v2", ...]``."""
    found = [(int(m.group(1)), p.stem) for p in weights_dir().glob("v*.yaml") if (m := VERSION_RE.match(p.name))]
    return [name for _, name in sorted(found)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_log() -> tuple[dict[str, str], list[str]]:
    """What CHANGELOG.md records: ``({version: sha256}, problems)``.

    Entries written by ``adopt`` end with a machine-readable record (an HTML comment holding
    JSON) that text copied into the log cannot imitate; those are trusted first. Older entries
    without one are read from their ``## vN`` heading and ``- file:`` line, the first entry of a
    version winning. ``problems`` lists versions whose entry appears more than once (the log was
    edited by hand or forged) and records out of version order.
    """
    path = weights_dir() / "CHANGELOG.md"
    if not path.is_file():
        return {}, []
    text = path.read_text(encoding="utf-8", errors="replace")
    problems: list[str] = []
    heads: dict[str, int] = {}
    for v in _HEADING_RE.findall(text):
        heads[v] = heads.get(v, 0) + 1
    problems += [f"{v} has {n} entries" for v, n in heads.items() if n > 1]
    records: dict[str, str] = {}
    order: list[int] = []
    for m in _RECORD_RE.finditer(text):
        try:
            rec = json.loads(m.group(1))
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        v, sha = rec.get("version"), rec.get("sha256")
        if not (isinstance(v, str) and VERSION_RE.match(f"{v}.yaml") and isinstance(sha, str)
                and re.fullmatch(r"[0-9a-f]{64}", sha)):
            continue
        if v in records:
            problems.append(f"{v} has more than one record")
        records.setdefault(v, sha)
        order.append(int(v[1:]))
    if order != sorted(order):
        problems.append("entries are out of version order")
    hashes: dict[str, str] = {}
    for entry in re.split(r"(?=^## v\d+)", text, flags=re.MULTILINE):
        m = _SHA_RE.search(entry)
        if m:
            hashes.setdefault(m.group(1), m.group(2))
    hashes.update(records)
    return hashes, problems


def list_versions():
    """Every version as a DataFrame: ``version, active`` (bool), ``adopted_at, parent, weights``
    (adoption/engagement/sentiment/outcomes/relationship), ``thresholds`` (green/amber),
    ``reason`` and ``intact``: True when the file still matches the sha256 recorded in
    CHANGELOG.md, False when it was edited or the log holds more than one entry for it, None when
    no hash is recorded. A version file that no longer validates is listed with its problem as
    the reason."""
    import pandas as pd
    try:
        active = active_version()
    except BadInput:
        active = None
    recorded, problems = read_log()
    doubtful = {p.split()[0] for p in problems}
    rows = []
    for name in versions():
        path = weights_dir() / f"{name}.yaml"
        sha = recorded.get(name)
        intact = None if sha is None else (name not in doubtful and sha == _sha256(path))
        try:
            w = load(path)
        except BadInput as exc:
            rows.append({"version": name, "active": name == active, "adopted_at": None, "parent": None,
                         "weights": None, "thresholds": None, "reason": f"INVALID: {exc}", "intact": intact})
            continue
        rows.append({"version": name, "active": name == active, "adopted_at": _text(w.meta.get("adopted_at")),
                     "parent": _text(w.meta.get("parent")),
                     "weights": "/".join(str(w.weights[d]) for d in DIMENSIONS),
                     "thresholds": f"{w.green:g}/{w.amber:g}", "reason": _text(w.meta.get("reason")),
                     "intact": intact})
    return pd.DataFrame(rows, columns=["version", "active", "adopted_at", "parent", "weights", "thresholds",
                                       "reason", "intact"])


def _text(value) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------- checking a proposal
def _check_calibration(data: dict[str, Any], source: str) -> None:
    """An optional ``calibration`` map must be 101 fractions 0..1, non-increasing with the score."""
    cal = data.get("calibration")
    if cal is None:
        return
    probs = cal.get("churn_probability") if isinstance(cal, dict) else None
    if not isinstance(probs, list) or len(probs) != 101:
        raise BadInput(source, "calibration.churn_probability", "must list 101 probabilities (scores 0..100)")
    if any(isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1 for p in probs):
        raise BadInput(source, "calibration.churn_probability", "must hold fractions within 0..1")
    rises = [i for i in range(1, 101) if probs[i] > probs[i - 1] + 1e-12]
    if rises:
        raise BadInput(source, "calibration.churn_probability", "must not rise with the score", len(rises),
                       [f"score {i}" for i in rises[:5]])
    h = cal.get("horizon_days")
    if h is not None and (isinstance(h, bool) or not isinstance(h, int) or h < 1):
        raise BadInput(source, "calibration.horizon_days", f"must be a whole number >= 1, got {h!r}")


def _one_line(value: str, where: str, source: str) -> str:
    """``value`` if it is one line of printable text (no line breaks or control characters)."""
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise BadInput(source, where, f"must be one line of text without control characters, found {bad!r}")
    if len(value) > MAX_TEXT:
        raise BadInput(source, where, f"must be at most {MAX_TEXT} characters, has {len(value)}")
    return value


def _clean(value: Any, where: str, source: str, depth: int = 0) -> Any:
    """A copy of a proposal value made of mappings, lists, numbers, booleans, null and one-line text.
    Dates become ISO text, non-finite numbers null; anything else is :class:`BadInput`."""
    if depth > MAX_DEPTH:
        raise BadInput(source, where, f"is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _one_line(value, where, source)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_clean(v, f"{where}[{i}]", source, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not _KEY_RE.match(k):
                raise BadInput(source, where, f"has a key that is not a plain name: {str(k)[:40]!r}")
            out[k] = _clean(v, f"{where}.{k}", source, depth + 1)
        return out
    raise BadInput(source, where, f"must be text, a number, a list or a mapping, got {type(value).__name__}")


def _date(value: Any, where: str, source: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise BadInput(source, where, f"must be a date YYYY-MM-DD, got {str(value)[:40]!r}")


def _timestamp(value: Any, where: str, source: str) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str) and _TIME_RE.match(value):
        try:
            dt.date.fromisoformat(value[:10])
            return value
        except ValueError:
            pass
    raise BadInput(source, where, f"must be an ISO date or time such as 2026-11-20T09:00:00Z, "
                   f"got {str(value)[:40]!r}")


def _number(value: Any, where: str, source: str) -> float | int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(source, where, f"must be a number, got {str(value)[:40]!r}")
    return value


def _provenance(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The proposal's metadata to keep in the new version, typed and checked.

    Counts are whole numbers, dates are dates, metrics are numbers, ``recommendation`` is
    ``{adopt: true|false, reason: text}`` and every other text is one line. The keys that
    ``adopt`` sets itself (version, parent, adopted_at, reason, adopted_from, ...) are left out.
    Raises :class:`BadInput` naming the field."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("weights", "thresholds", "onboarding") or key in _SET_BY_ADOPT:
            continue
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise BadInput(source, None, f"has a key that is not a plain name: {str(key)[:40]!r}")
        if key in _COUNTS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < _COUNTS[key]):
                raise BadInput(source, key, f"must be a whole number >= {_COUNTS[key]}, got {str(value)[:40]!r}")
            out[key] = value
        elif key == "generated_at":
            out[key] = None if value is None else _timestamp(value, key, source)
        elif key == "data_window":
            out[key] = _data_window(value, source)
        elif key == "metrics":
            out[key] = _metrics(value, source)
        elif key == "recommendation":
            out[key] = _recommendation(value, source)
        else:
            out[key] = _clean(value, key, source)
    return out


def _data_window(value: Any, source: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput(source, "data_window", "must be a mapping (as_of, train, test, ...)")
    typed: dict[str, Any] = {}
    for k in ("as_of", "first_observed", "last_observed"):
        if value.get(k) is not None:
            typed[k] = _date(value[k], f"data_window.{k}", source)
    for k in ("train", "test"):
        if value.get(k) is not None:
            span = value[k]
            if not isinstance(span, list) or len(span) != 2:
                raise BadInput(source, f"data_window.{k}", "must be [first date, last date]")
            typed[k] = [_date(d, f"data_window.{k}", source) for d in span]
    out = _clean({k: v for k, v in value.items() if k not in typed}, "data_window", source)
    return {k: typed.get(k, out.get(k)) for k in value}


def _metrics(value: Any, source: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput(source, "metrics", "must be a mapping with current and proposed")
    typed: dict[str, Any] = {}
    for side in ("current", "proposed"):
        if side in value:
            if not isinstance(value[side], dict):
                raise BadInput(source, f"metrics.{side}", "must map metric names to numbers")
            typed[side] = {k: _number(v, f"metrics.{side}.{k}", source) for k, v in value[side].items()}
    out = _clean(value, "metrics", source)          # checks the names (keys) too
    out.update(typed)
    return out


def _recommendation(value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("adopt"), bool):
        raise BadInput(source, "recommendation", "must be a mapping with adopt: true or false and a one-line reason")
    reason = value.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadInput(source, "recommendation.reason", "must be one line of text")
    out = _clean(value, "recommendation", source)
    out["reason"] = " ".join(reason.split()) if reason else None
    return out


def _clean_reason(reason: Any) -> str:
    """``--reason`` as one line: whitespace (line breaks included) collapsed, control characters dropped."""
    text = " ".join(str(reason or "").split())
    return "".join(c for c in text if unicodedata.category(c) != "Cc")


def _md(text: Any) -> str:
    """One-line text for the change log: whitespace collapsed, ``<`` escaped (no HTML, no comments)."""
    return " ".join(str(text).split()).replace("<", "&lt;")


# ---------------------------------------------------------------------------- writing files
def _write_new(path: Path, text: str) -> None:
    """Create ``path`` atomically with ``text``; refuse (BadInput) if it already exists."""
    try:
        atomic_write(path, text, exclusive=True)
    except FileExistsError:
        raise BadInput(str(path), None, "already exists: an adopted version is never overwritten") from None


@contextlib.contextmanager
def adoption_lock(timeout: float | None = None):
    """Hold the exclusive adoption lock on params/weights/ (``.adopt.lock``, ``fcntl.flock``).

    Waits up to ``timeout`` seconds (default :data:`LOCK_TIMEOUT_SECONDS`, or the
    ``WORKBOOK_LOCK_TIMEOUT`` environment variable) for another adoption to finish, then gives up
    with :class:`BadInput` naming the holder (process id, host, since when). The system releases
    the lock when its holder exits, even after a crash; the file is removed on release.
    """
    if timeout is None:
        try:
            timeout = float(os.environ.get("WORKBOOK_LOCK_TIMEOUT", LOCK_TIMEOUT_SECONDS))
        except ValueError:
            raise BadInput("WORKBOOK_LOCK_TIMEOUT", None, "must be a number of seconds") from None
    path = weights_dir() / LOCK_NAME
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise BadInput(str(path), None, f"cannot create the adoption lock ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise BadInput(str(path), None, f"another adoption holds the lock ({_lock_holder(path)}); waited "
                               f"{timeout:g} s: try again when it has finished") from None
            time.sleep(0.05)
            continue
        try:                                     # the holder we waited for may have removed the file
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        holder = (f"pid {os.getpid()} on {socket.gethostname()} since "
                  f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n")
        os.ftruncate(fd, 0)
        os.write(fd, holder.encode("utf-8"))
        yield path
    finally:
        try:
            os.unlink(path)                      # still holding the lock: nobody else can have it
        except FileNotFoundError:
            pass
        os.close(fd)


def _lock_holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return f"held by {text}" if text else "holder unknown"


# ---------------------------------------------------------------------------- the change log
def _entry(w: Weights, name: str, sha: str, parent: Weights | None) -> str:
    """One change-log entry; every copied value is typed or one escaped line."""
    meta = w.meta
    change = ""
    if parent is not None:
        deltas = [f"{d} {w.weights[d] - parent.weights[d]:+d}" for d in DIMENSIONS if w.weights[d] != parent.weights[d]]
        change = f" (vs {_md(parent.label)}: {', '.join(deltas) if deltas else 'unchanged'})"
    lines = [f"## {name} — adopted {_md(meta.get('adopted_at', 'unknown'))}", "",
             "- weights: " + ", ".join(f"{d} {w.weights[d]}" for d in DIMENSIONS) + change,
             f"- thresholds: green {w.green:g}, amber {w.amber:g}",
             *(["- onboarding weights: " + ", ".join(f"{d} {w.onboarding[d]}" for d in DIMENSIONS)]
               if w.onboarding is not None else []),
             f"- parent: {_md(meta.get('parent') or 'none')}",
             f"- reason: {_md(meta.get('reason', ''))}"]
    if meta.get("forced"):
        rec = meta.get("recommendation") or {}
        lines.append("- forced: adopted with --force although the proposal recommended not to"
                     + (f" ({_md(rec['reason'])})" if rec.get("reason") else ""))
    metrics = meta.get("metrics")
    if isinstance(metrics, dict) and all(isinstance(metrics.get(k), dict) for k in ("current", "proposed")):
        window = meta.get("data_window") or {}
        test = window.get("test") if isinstance(window, dict) else None
        n_test = meta.get("n_test")
        ev = ", ".join(f"{_md(k)} {_num_text(metrics['current'].get(k))} -> {_num_text(metrics['proposed'].get(k))}"
                       for k in ("auc", "brier", "log_loss") if k in metrics["current"])
        against = _md(meta.get("calibrated_against", meta.get("parent")))
        lines.append(f"- evidence (out of time, test {_md(test[0])}..{_md(test[1])}, "
                     f"n={n_test if isinstance(n_test, int) else 'unknown'}, vs {against}): {ev}"
                     if isinstance(test, list) and len(test) == 2 else f"- evidence: {ev}")
    record = {"version": name, "parent": meta.get("parent"), "adopted_at": meta.get("adopted_at"),
              "file": f"{name}.yaml", "sha256": sha, "forced": bool(meta.get("forced"))}
    lines.append(f"- file: {name}.yaml (sha256 {sha})")
    payload = json.dumps(record, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
    lines.append(f"{_RECORD_PREFIX}{payload} -->")
    return "\n".join(lines) + "\n"


def _num_text(value: Any) -> str:
    return "null" if value is None else str(value) if isinstance(value, (int, float)) else _md(value)


def _initial_log() -> str:
    """A change log with an entry for every existing version (used when CHANGELOG.md is missing)."""
    parts, prev = [CHANGELOG_HEADER], None
    for name in versions():
        f = weights_dir() / f"{name}.yaml"
        w = load(f)
        parts.append(_entry(w, name, _sha256(f), prev))
        prev = w
    return "\n".join(parts)


def _pointer_text() -> str:
    """params/health.yaml, checked to hold exactly one ``active_weights:`` line."""
    path = params_dir() / "health.yaml"
    if not path.is_file():
        raise BadInput(str(path), None, "parameters file does not exist")
    text = path.read_text(encoding="utf-8")
    found = _ACTIVE_RE.findall(text)
    if len(found) != 1:
        raise BadInput(str(path), "active_weights", f"must appear exactly once on its own line, found {len(found)}")
    return text


def _move_pointer(version: str, text: str) -> None:
    """Rewrite only the ``active_weights:`` line of params/health.yaml (comments kept)."""
    moved = _ACTIVE_RE.sub(lambda m: f"{m.group(1)}{version}{m.group(3)}", text, count=1)
    atomic_write(params_dir() / "health.yaml", moved)


# ---------------------------------------------------------------------------- adoption
def adopt(path: str | Path, reason: str, *, adopted_at: str | None = None, force: bool = False,
          lock_timeout: float | None = None) -> Weights:
    """Adopt a proposed weights file as the next version and make it active.

    Validates the file (weights, thresholds, an optional calibration map and every metadata
    field copied into the new version: :class:`BadInput` otherwise). A proposal whose
    ``recommendation.adopt`` is false is refused unless ``force``. Under the adoption lock
    (:func:`adoption_lock`) it checks the pointer, the parent and the change log, then writes
    ``params/weights/v<N+1>.yaml`` with ``version``, ``adopted_at`` (UTC ISO time unless given),
    ``reason``, ``parent`` (the version active until now), ``adopted_from`` and the proposal's
    checked provenance, adds the CHANGELOG.md entry and moves ``active_weights`` in
    params/health.yaml. If a step fails, the steps before it are undone. Returns the new
    :class:`Weights`.
    """
    path = Path(path)
    reason = _clean_reason(reason)
    if not reason:
        raise BadInput("--reason", None, "must say why these weights are adopted (it goes into the change log)")
    if adopted_at is not None:
        adopted_at = _timestamp(adopted_at, "adopted_at", "adopt()")
    data = read_yaml(path)
    proposal = validate(data, str(path))
    _check_calibration(data, str(path))
    extra = _provenance(data, str(path))
    calibrated_against = data.get("parent")
    if calibrated_against is not None:
        calibrated_against = _one_line(str(calibrated_against), "parent", str(path))[:100]
    rec = extra.get("recommendation")
    forced = isinstance(rec, dict) and rec.get("adopt") is False
    if forced and not force:
        raise BadInput(str(path), "recommendation", "the proposal recommends not adopting it: "
                       f"{rec.get('reason') or 'no reason given'}; pass --force to adopt it anyway")
    with adoption_lock(lock_timeout):
        return _adopt_locked(path, proposal, data, extra, reason, adopted_at, calibrated_against, forced)


def _adopt_locked(path, proposal, data, extra, reason, adopted_at, calibrated_against, forced) -> Weights:
    # check everything first ...
    health_text = _pointer_text()
    parent = active_version()
    parent_w = load(weights_dir() / f"{parent}.yaml")
    log_path = weights_dir() / "CHANGELOG.md"
    log_before = log_path.read_text(encoding="utf-8") if log_path.exists() else None
    base_log = log_before if log_before is not None else _initial_log()
    existing = versions()
    number = (int(existing[-1][1:]) if existing else 0) + 1
    name = f"v{number}"
    doc: dict[str, Any] = {"version": number, "weights": dict(proposal.weights),
                           "thresholds": {"green": data["thresholds"]["green"], "amber": data["thresholds"]["amber"]},
                           "adopted_at": adopted_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "reason": reason, "parent": parent, "adopted_from": str(path)}
    if proposal.onboarding is not None:
        doc["onboarding"] = {"weights": dict(proposal.onboarding)}
    if calibrated_against not in (None, parent):
        doc["calibrated_against"] = calibrated_against
    if forced:
        doc["forced"] = True
    doc.update(extra)
    text = (f"# Health weights, version {number}: adopted with `workbook weights adopt`.\n"
            "# Never edit an adopted version: adopt a new one instead (the change log records its sha256).\n"
            + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True))
    # ... then write, undoing the earlier steps when a later one fails
    target = weights_dir() / f"{name}.yaml"
    _write_new(target, text)
    log_written = False
    try:
        new = load(target)
        sep = "\n" if base_log.endswith("\n") else "\n\n"      # existing bytes are kept as they are
        atomic_write(log_path, base_log + sep + _entry(new, name, _sha256(target), parent_w))
        log_written = True
        _move_pointer(name, health_text)
    except BaseException:
        if log_written:
            if log_before is None:
                log_path.unlink(missing_ok=True)
            else:
                atomic_write(log_path, log_before)
        target.unlink(missing_ok=True)
        raise
    return new
