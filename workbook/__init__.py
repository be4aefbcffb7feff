"""workbook: onboarding KPIs, customer health, churn calibration and scheduled reports.

The calls an analyst types in a notebook::

    import workbook as wb
    ws = wb.open_data("data/sample")
"""
__version__ = "0.1.0"

from .errors import BadInput, Finding  # noqa: E402
from .workspace import Workspace, open_data, summarise  # noqa: E402

__all__ = ["__version__", "BadInput", "Finding", "Workspace", "open_data", "summarise"]

# Exports imported on first use, so `import workbook` (and every CLI command) does not pay for
# scikit-learn/SciPy unless they are needed: name -> module.
_LAZY = {
    "ChurnCalibrator": "calibration", "build_snapshots": "calibration", "load_snapshots": "calibration",
    "evaluate_calibration": ("calibration", "evaluate"),
    # onboarding KPIs and supporting metrics (docs/kpis.md)
    "kpi_table": "kpis", "kpi_report": ("kpis", "compute"), "kpi_trend": ("kpis", "trend"),
    "ttv_rolling": "kpis", "kpis_by_segment": ("kpis", "by_segment"), "kpis_by_csm": ("kpis", "by_csm"),
    "metrics_table": "metrics", "ttv_by_segment": "metrics", "adoption_table": ("metrics", "adoption"),
    "past_due": "metrics", "adoption_signals": "adoption",
    # customer health (docs/health.md)
    "health_table": "health", "dimension_scores": "health", "health_history": ("health", "history"),
    "health_drivers": ("health", "drivers"), "waterfall": "health", "risk_signals": "signals",
    # reports (docs/report-guide.md)
    "render_report": ("report", "render"), "cycle_from_params": "post_cycle",
    "analyse_cycle": ("post_cycle", "analyse"),
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'workbook' has no attribute {name!r}")
    module, attr = (target, name) if isinstance(target, str) else target
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value
