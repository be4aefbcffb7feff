"""What ``import workbook as wb`` offers an analyst: every export is the module's own name."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import workbook as wb


def test_every_export_is_the_module_function_of_the_same_name():
    for name in wb.__all__:
        if name == "__version__":
            continue
        value = getattr(wb, name)
        module = importlib.import_module(value.__module__)
        assert getattr(module, name) is value, name            # same object, same name, in its module
        assert value.__doc__, f"{name} has no docstring"


def test_dir_lists_every_export_and_module():
    listed = dir(wb)
    for name in [*wb.__all__, *wb._MODULES]:
        assert name in listed, name
    assert not set(wb._RENAMED) & set(listed)
    assert wb.kpis.compute is importlib.import_module("workbook.kpis").compute
    assert wb.health.history is importlib.import_module("workbook.health").history
    assert wb.revenue_kpis is importlib.import_module("workbook.revenue").revenue_kpis
    assert wb.contract_state is importlib.import_module("workbook.revenue").contract_state
    assert wb.revenue.breakdown is importlib.import_module("workbook.revenue").breakdown
    assert wb.renewal_forecast is importlib.import_module("workbook.renewals").renewal_forecast
    assert wb.expansion_signals is importlib.import_module("workbook.expansion").expansion_signals
    assert wb.renewals.RenewalHazard is importlib.import_module("workbook.renewals").RenewalHazard


def test_names_renamed_in_0_2_still_work_with_a_warning():
    with pytest.warns(DeprecationWarning, match=r"wb.kpi_report is wb.kpis.compute"):
        assert wb.kpi_report is wb.kpis.compute


def test_import_stays_light():
    """`import workbook` loads neither scikit-learn nor SciPy (every command pays for the import)."""
    code = "import sys, workbook; print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        wb.nope
