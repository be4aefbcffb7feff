"""Versioned health weights: ``params/weights/vN.yaml`` and the active pointer in ``params/health.yaml``.

A weights file holds ``weights`` (five non-negative integers summing to 100, one per dimension)
and ``thresholds`` (``green`` > ``amber``, both within 0..100), plus optional metadata. A file
that breaks this is refused with :class:`BadInput` (exit code 2 on the command line).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import BadInput
from .params import params_dir, read_yaml

DIMENSIONS = ("adoption", "engagement", "sentiment", "outcomes", "relationship")
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

    def colour(self, score: float) -> str:
        """``green`` at or above the green threshold, ``amber`` at or above amber, else ``red``."""
        return "green" if score >= self.green else "amber" if score >= self.amber else "red"

    @property
    def label(self) -> str:
        return self.version or (Path(self.path).name if self.path else "custom")


def validate(data: dict[str, Any], source: str = "weights") -> Weights:
    """Check a parsed weights mapping and return :class:`Weights`; raise :class:`BadInput` if wrong."""
    w = data.get("weights")
    if not isinstance(w, dict):
        raise BadInput(source, "weights", "must be a mapping of the five dimensions to integer weights")
    unknown = sorted(set(w) - set(DIMENSIONS))
    missing = [d for d in DIMENSIONS if d not in w]
    if unknown:
        raise BadInput(source, "weights", f"unknown dimension(s) {', '.join(map(str, unknown))}: "
                       f"use {', '.join(DIMENSIONS)}")
    if missing:
        raise BadInput(source, "weights", f"missing dimension(s) {', '.join(missing)}")
    clean = {}
    for d in DIMENSIONS:
        v = w[d]
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise BadInput(source, f"weights.{d}", f"must be a whole number, got {v!r}")
        if v < 0:
            raise BadInput(source, f"weights.{d}", f"must be >= 0, got {v}")
        clean[d] = v
    total = sum(clean.values())
    if total != 100:
        raise BadInput(source, "weights", f"must sum to 100, they sum to {total}")
    t = data.get("thresholds")
    if not isinstance(t, dict) or "green" not in t or "amber" not in t:
        raise BadInput(source, "thresholds", "must give green and amber")
    if any(isinstance(t[k], bool) or not isinstance(t[k], (int, float)) for k in ("green", "amber")):
        raise BadInput(source, "thresholds", "green and amber must be numbers")
    green, amber = float(t["green"]), float(t["amber"])
    if not (0 <= amber < green <= 100):
        raise BadInput(source, "thresholds", f"must satisfy 0 <= amber < green <= 100, got amber {amber:g}, "
                       f"green {green:g}")
    meta = {k: v for k, v in data.items() if k not in ("weights", "thresholds")}
    version = meta.get("version")
    return Weights(clean, green, amber, version=f"v{version}" if isinstance(version, int) else version,
                   path=source, meta=meta)


def load(path: str | Path) -> Weights:
    """Read and validate one weights file."""
    path = Path(path)
    w = validate(read_yaml(path), str(path))
    if w.version is None:
        m = VERSION_RE.match(path.name)
        if m:
            w = Weights(w.weights, w.green, w.amber, version=f"v{m.group(1)}", path=str(path), meta=w.meta)
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
# Only `workbook weights adopt` creates a version: it writes the next vN.yaml (never overwriting
# one), appends CHANGELOG.md (with the file's sha256, so `weights list` can show whether a
# version was edited afterwards) and moves `active_weights` in params/health.yaml.
CHANGELOG_HEADER = """# Health weights change log

One entry per adopted version of `params/weights/vN.yaml`, oldest first. Entries are appended by
`workbook weights adopt FILE --reason TEXT`; never edit an adopted version or an entry. To roll
back, adopt the older file again: it becomes a new version with its own reason.
"""
_ACTIVE_RE = re.compile(r"^(active_weights:[ \t]*)(\S+)(.*)$", re.MULTILINE)
_SHA_RE = re.compile(r"^## (v\d+)\b.*?^- file: \S+ \(sha256 ([0-9a-f]{64})\)", re.MULTILINE | re.DOTALL)
_REPLACED_KEYS = ("version", "adopted_at", "reason", "parent", "status")


def versions() -> list[str]:
    """The adopted versions in params/weights/, in order: ``["v1", "v2", ...]``."""
    found = [(int(m.group(1)), p.stem) for p in weights_dir().glob("v*.yaml") if (m := VERSION_RE.match(p.name))]
    return [name for _, name in sorted(found)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded_hashes() -> dict[str, str]:
    path = weights_dir() / "CHANGELOG.md"
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    entries = re.split(r"(?=^## v\d+)", text, flags=re.MULTILINE)
    out = {}
    for entry in entries:
        m = _SHA_RE.search(entry)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def list_versions():
    """Every version as a DataFrame: ``version, active`` (bool), ``adopted_at, parent, weights``
    (adoption/engagement/sentiment/outcomes/relationship), ``thresholds`` (green/amber),
    ``reason`` and ``intact`` (True when the file still matches the sha256 recorded in
    CHANGELOG.md, False when it was edited, None when no hash is recorded). A version file that
    no longer validates is listed with its problem as the reason."""
    import pandas as pd
    try:
        active = active_version()
    except BadInput:
        active = None
    recorded = _recorded_hashes()
    rows = []
    for name in versions():
        path = weights_dir() / f"{name}.yaml"
        sha = recorded.get(name)
        intact = None if sha is None else sha == _sha256(path)
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


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` atomically with ``text``; refuse (BadInput) if it already exists."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.link(tmp, path)                       # atomic, and fails if the target exists
    except FileExistsError:
        raise BadInput(str(path), None, "already exists: an adopted version is never overwritten") from None
    finally:
        os.unlink(tmp)


def _replace(path: Path, text: str) -> None:
    """Replace ``path`` atomically (write a temporary file beside it, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _entry(w: Weights, name: str, sha: str, parent: Weights | None) -> str:
    meta = w.meta
    change = ""
    if parent is not None:
        deltas = [f"{d} {w.weights[d] - parent.weights[d]:+d}" for d in DIMENSIONS if w.weights[d] != parent.weights[d]]
        change = f" (vs {parent.label}: {', '.join(deltas) if deltas else 'unchanged'})"
    lines = [f"## {name} — adopted {meta.get('adopted_at', 'unknown')}", "",
             "- weights: " + ", ".join(f"{d} {w.weights[d]}" for d in DIMENSIONS) + change,
             f"- thresholds: green {w.green:g}, amber {w.amber:g}",
             f"- parent: {meta.get('parent') or 'none'}",
             f"- reason: {' '.join(str(meta.get('reason', '')).split())}"]
    metrics = meta.get("metrics")
    if isinstance(metrics, dict) and all(isinstance(metrics.get(k), dict) for k in ("current", "proposed")):
        window = meta.get("data_window") or {}
        test = window.get("test") if isinstance(window, dict) else None
        ev = ", ".join(f"{k} {metrics['current'].get(k)} -> {metrics['proposed'].get(k)}"
                       for k in ("auc", "brier", "log_loss") if k in metrics["current"])
        lines.append(f"- evidence (out of time, test {test[0]}..{test[1]}, n={meta.get('n_test')}, "
                     f"vs {meta.get('calibrated_against', meta.get('parent'))}): {ev}"
                     if isinstance(test, list) and len(test) == 2 else f"- evidence: {ev}")
    lines.append(f"- file: {name}.yaml (sha256 {sha})")
    return "\n".join(lines) + "\n"


def _ensure_changelog() -> Path:
    """CHANGELOG.md, created with an entry for every existing version when it is missing."""
    path = weights_dir() / "CHANGELOG.md"
    if not path.exists():
        parts, prev = [CHANGELOG_HEADER], None
        for name in versions():
            f = weights_dir() / f"{name}.yaml"
            w = load(f)
            parts.append(_entry(w, name, _sha256(f), prev))
            prev = w
        _replace(path, "\n".join(parts))
    return path


def _move_pointer(version: str) -> None:
    """Rewrite only the ``active_weights:`` line of params/health.yaml (comments kept)."""
    path = params_dir() / "health.yaml"
    text = path.read_text(encoding="utf-8")
    found = _ACTIVE_RE.findall(text)
    if len(found) != 1:
        raise BadInput(str(path), "active_weights", f"must appear exactly once on its own line, found {len(found)}")
    _replace(path, _ACTIVE_RE.sub(lambda m: f"{m.group(1)}{version}{m.group(3)}", text, count=1))


def adopt(path: str | Path, reason: str, *, adopted_at: str | None = None) -> Weights:
    """Adopt a proposed weights file as the next version and make it active.

    Validates the file (weights, thresholds and an optional calibration map; :class:`BadInput`
    otherwise), writes ``params/weights/v<N+1>.yaml`` with ``version``, ``adopted_at`` (UTC
    ISO time unless given), ``reason``, ``parent`` (the version active until now) and the
    file's provenance (data window, metrics, calibration map...), appends CHANGELOG.md and moves
    ``active_weights`` in params/health.yaml. Returns the new :class:`Weights`.
    """
    path = Path(path)
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise BadInput("--reason", None, "must say why these weights are adopted (it goes into the change log)")
    data = read_yaml(path)
    proposal = validate(data, str(path))
    _check_calibration(data, str(path))
    parent = active_version()
    parent_w = load(weights_dir() / f"{parent}.yaml")
    _ensure_changelog()
    existing = versions()
    number = (int(existing[-1][1:]) if existing else 0) + 1
    name = f"v{number}"
    doc: dict[str, Any] = {"version": number, "weights": dict(proposal.weights),
                           "thresholds": {"green": data["thresholds"]["green"], "amber": data["thresholds"]["amber"]},
                           "adopted_at": adopted_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "reason": reason, "parent": parent, "adopted_from": str(path)}
    if data.get("parent") not in (None, parent):
        doc["calibrated_against"] = data["parent"]
    doc.update({k: v for k, v in data.items() if k not in (*_REPLACED_KEYS, "weights", "thresholds")})
    text = (f"# Health weights, version {number}: adopted with `workbook weights adopt`.\n"
            "# Never edit an adopted version: adopt a new one instead (the change log records its sha256).\n"
            + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True))
    target = weights_dir() / f"{name}.yaml"
    _write_new(target, text)
    new = load(target)
    with open(weights_dir() / "CHANGELOG.md", "a", encoding="utf-8") as fh:
        fh.write("\n" + _entry(new, name, _sha256(target), parent_w))
    _move_pointer(name)
    return new


def cli(args) -> int:
    """``workbook weights list`` and ``workbook weights adopt FILE --reason TEXT``."""
    from .cli import print_frame
    if args.weights_command == "list":
        table = list_versions()
        table["active"] = table["active"].map({True: "*", False: ""})
        table["intact"] = table["intact"].map({True: "yes", False: "EDITED", None: "?"})
        table["reason"] = table["reason"].map(lambda r: r if r is None or len(r) <= 70 else r[:67] + "...")
        print_frame(table.astype(object).where(table.notna(), "—"), "table")
        return 0
    new = adopt(args.file, args.reason)
    print(f"adopted {new.version} (parent {new.meta.get('parent')}): {new.path}")
    print(f"  weights {'/'.join(str(new.weights[d]) for d in DIMENSIONS)}, thresholds {new.green:g}/{new.amber:g}")
    print(f"  active_weights -> {new.version} in {params_dir() / 'health.yaml'}; "
          f"{weights_dir() / 'CHANGELOG.md'} updated")
    return 0
