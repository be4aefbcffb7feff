"""A pytest plugin (``-p notebook_checks`` in pyproject.toml): nbval runs every report notebook in
``notebooks/`` with its defaults (``pytest notebooks/``, or ``pytest --nbval-lax notebooks/``).

It lives with the tests, not beside the notebooks, so an analyst opening ``notebooks/`` in
JupyterLab sees the reports and nothing else.

A notebook whose ``data`` parameter is None reads ``$WORKBOOK_DATA`` (else ``data/sample``). When
``WORKBOOK_DATA`` is not set, this builds a small sample world (150 accounts, seed 7) in a
temporary directory when the first notebook is collected (before any kernel starts) and points ``WORKBOOK_DATA`` at it, so the run needs
nothing prepared; the directory is removed at the end. ``notebooks/`` is in the ``testpaths`` of
pyproject.toml, so ``make test`` runs this check too.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

SMALL_WORLD_ACCOUNTS = 150
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_created: list[str] = []


def _ensure_world() -> None:
    """Point ``WORKBOOK_DATA`` at a small sample world unless it is set (once, on first use)."""
    if os.environ.get("WORKBOOK_DATA"):
        return
    from workbook.sample import write_sample

    root = tempfile.mkdtemp(prefix="workbook-nbval-")
    _created.append(root)
    world = os.path.join(root, "world")
    write_sample(world, accounts=SMALL_WORLD_ACCOUNTS, seed=7)
    os.environ["WORKBOOK_DATA"] = world


def pytest_unconfigure(config):
    while _created:
        shutil.rmtree(_created.pop(), ignore_errors=True)


def pytest_collect_file(file_path, parent):
    """Collect the report notebooks with nbval in lax mode (run every cell, compare no output) when
    pytest runs this directory without ``--nbval-lax`` (``make test``: it is in ``testpaths``).
    Scoped to ``notebooks/``, so the stand-in notebooks under ``tests/fixtures`` are not collected."""
    option = parent.config.option
    if file_path.suffix == ".ipynb" and file_path.parent == NOTEBOOKS and not (getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)):
        from nbval.plugin import IPyNbFile

        _ensure_world()
        notebook = IPyNbFile.from_parent(parent, path=file_path)
        notebook.compare_outputs = False
        return notebook
    return None


def pytest_collection_modifyitems(config, items):
    """Mark the notebook cells ``slow`` like the other tests that start kernels."""
    import pytest

    for item in items:
        if item.path.parent == NOTEBOOKS and item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
