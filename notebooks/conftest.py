"""nbval runs every report notebook with its defaults: ``pytest --nbval-lax notebooks/`` (or ``pytest notebooks/``).

A notebook whose ``data`` parameter is None reads ``$WORKBOOK_DATA`` (else ``data/sample``). When
``WORKBOOK_DATA`` is not set, this builds a small sample world (150 accounts, seed 7) in a
temporary directory before any kernel starts and points ``WORKBOOK_DATA`` at it, so the run needs
nothing prepared; the directory is removed at the end. ``notebooks/`` is in the ``testpaths`` of
pyproject.toml, so ``make test`` runs this check too.
"""
from __future__ import annotations

import os
import shutil
import tempfile

SMALL_WORLD_ACCOUNTS = 150
_created: list[str] = []


def pytest_configure(config):
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
    Scoped to this directory, so the stand-in notebooks under ``tests/fixtures`` are not collected."""
    option = parent.config.option
    if file_path.suffix == ".ipynb" and not (getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)):
        from nbval.plugin import IPyNbFile

        notebook = IPyNbFile.from_parent(parent, path=file_path)
        notebook.compare_outputs = False
        return notebook
    return None


def pytest_collection_modifyitems(config, items):
    """Mark the notebook cells ``slow`` like the other tests that start kernels."""
    import pytest

    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.path).startswith(here + os.sep) and item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
