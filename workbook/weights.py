"""Versioned health weights: ``params/weights/vN.yaml`` and the active pointer in ``params/health.yaml``.

A weights file holds ``weights`` (five non-negative integers summing to 100, one per dimension)
and ``thresholds`` (``green`` > ``amber``, both within 0..100), plus optional metadata. A file
that breaks this is refused with :class:`BadInput` (exit code 2 on the command line).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    try:
        green, amber = float(t["green"]), float(t["amber"])
    except (TypeError, ValueError):
        raise BadInput(source, "thresholds", "green and amber must be numbers") from None
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
