"""A calibration proposal file as `workbook calibrate` writes one, for the weights tests."""
from __future__ import annotations

from pathlib import Path

import yaml

MAP = [round(0.9 - 0.008 * s, 6) for s in range(101)]          # 0.9 at score 0 down to 0.1 at 100


def write_proposal(path: Path, weights=None, **extra) -> Path:
    """Write a proposal to ``path``; ``extra`` replaces top-level keys (mappings are merged)."""
    doc = {"weights": weights or {"adoption": 40, "engagement": 10, "sentiment": 5, "outcomes": 30,
                                  "relationship": 15},
           "thresholds": {"green": 80, "amber": 60}, "parent": "v1", "status": "proposal (not adopted)",
           "horizon_days": 90, "n_train": 1000, "n_test": 400,
           "data_window": {"as_of": "2026-11-15", "train": ["2025-03-01", "2026-01-01"],
                           "test": ["2026-04-01", "2026-08-01"], "source": "data/sample"},
           "metrics": {"current": {"auc": 0.70, "brier": 0.06, "log_loss": 0.22},
                       "proposed": {"auc": 0.75, "brier": 0.05, "log_loss": 0.20}},
           "calibration": {"horizon_days": 90, "method": "logistic", "churn_probability": MAP}}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
