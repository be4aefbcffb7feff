"""workbook: onboarding KPIs, customer health, churn calibration and scheduled reports.

The calls an analyst types in a notebook::

    import workbook as wb
    ws = wb.open_data("data/sample")
"""
__version__ = "0.1.0"

from .errors import BadInput, Finding  # noqa: E402
from .workspace import Workspace, open_data, summarise  # noqa: E402

__all__ = ["__version__", "BadInput", "Finding", "Workspace", "open_data", "summarise"]
