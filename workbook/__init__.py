"""workbook: onboarding KPIs, customer health, churn calibration and scheduled reports.

The calls an analyst types in a notebook::

    import workbook as wb
    ws = wb.open_data("data/sample")
    wb.health_table(ws)              # one row per live account
    wb.kpis.compute(ws)              # the seven KPIs, shaped like `workbook kpis --format json`

Every name here is the module function of the same name (``wb.health_table`` is
``workbook.health.health_table``), and every module is reachable as ``wb.<module>`` for the rest
(``wb.kpis.trend``, ``wb.health.history``, ``wb.report.render``). Names and modules load on first
use, so ``import workbook`` (and every command) does not pay for scikit-learn or SciPy unless
they are needed; ``dir(wb)`` and tab completion list them all.
"""
__version__ = "0.1.0"


from .errors import BadInput, Finding  # noqa: E402
from .workspace import Workspace, open_data, summarise  # noqa: E402

# name -> the module that defines a function (or class) of that name
_LAZY = {
    # calibration (docs/calibration.md)
    "ChurnCalibrator": "calibration", "build_snapshots": "snapshots", "load_snapshots": "snapshots",
    # onboarding KPIs and supporting metrics (docs/kpis.md)
    "kpi_table": "kpis", "ttv_rolling": "kpis", "metrics_table": "metrics", "ttv_by_segment": "metrics",
    "past_due": "metrics", "adoption_signals": "adoption",
    # contracts and revenue KPIs (docs/kpis.md "Revenue KPIs", docs/data-contract.md "contracts")
    "revenue_kpis": "revenue", "contract_state": "revenue",
    # renewals and expansion (docs/kpis.md "Renewal forecast", "Expansion signals"; docs/calibration.md)
    "renewal_forecast": "renewals", "expansion_signals": "expansion",
    # customer health (docs/health.md)
    "health_table": "health", "dimension_scores": "health", "waterfall": "health", "risk_signals": "signals",
    "explain": "explanation", "timeline": "activity",
    # reports (docs/report-guide.md)
    "cycle_from_params": "post_cycle",
}
# the modules an analyst uses, as wb.<module>
_MODULES = ("activity", "adoption", "calibration", "evaluation", "explanation", "health", "kpis", "metrics", "narrative", "plots",
            "post_cycle", "report", "reporting", "renewals", "revenue", "sample", "scoring", "signals", "snapshots", "tables",
            "weights", "wins", "workspace")
# names of 0.1 that were renamed on export; still served, with a warning, but not listed
_RENAMED = {
    "kpi_report": ("kpis", "compute"), "kpi_trend": ("kpis", "trend"), "kpis_by_segment": ("kpis", "by_segment"),
    "kpis_by_csm": ("kpis", "by_csm"), "adoption_table": ("metrics", "adoption"),
    "health_history": ("health", "history"), "health_drivers": ("health", "drivers"),
    "render_report": ("report", "render"), "analyse_cycle": ("post_cycle", "analyse"),
    "evaluate_calibration": ("evaluation", "evaluate"),
}

__all__ = ["__version__", "BadInput", "Finding", "Workspace", "open_data", "summarise", *_LAZY]


def __getattr__(name: str):
    import importlib
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _RENAMED:
        import warnings
        module, attr = _RENAMED[name]
        warnings.warn(f"wb.{name} is wb.{module}.{attr} since workbook 0.2", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'workbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_MODULES} - set(_RENAMED))
