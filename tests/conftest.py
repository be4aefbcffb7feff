"""Shared fixtures: a small deterministic sample world, opened once per test session."""
from __future__ import annotations

import os

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests draw the same examples on every run and never fail on time: a shared CI machine
# can pause any example past Hypothesis' 200 ms deadline, which it then reports as flaky.
settings.register_profile("workbook", deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile("workbook")

SMALL_WORLD_ACCOUNTS = 150


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    """A 150-account sample world written once per session (seed 7)."""
    from workbook.sample import write_sample
    out = tmp_path_factory.mktemp("sample") / "world"
    write_sample(out, accounts=SMALL_WORLD_ACCOUNTS, seed=7)
    return out


@pytest.fixture(scope="session")
def sample_ws(sample_dir):
    """The small sample world opened and validated (shared; do not mutate)."""
    from workbook.workspace import open_data
    ws = open_data(sample_dir)
    yield ws
    ws.close()


SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def scripted_world(sample_dir, tmp_path_factory):
    """A copy of the small sample world whose every account name ends with script markup: whatever
    page a name reaches, it must arrive escaped (the report and browser tests render it)."""
    import shutil

    import pandas as pd
    target = tmp_path_factory.mktemp("scripted") / "world"
    shutil.copytree(sample_dir, target)
    accounts = pd.read_csv(target / "accounts.csv", dtype=str, keep_default_na=False, na_filter=False)
    accounts["name"] = accounts["name"] + " " + SCRIPT
    accounts.to_csv(target / "accounts.csv", index=False)
    return target


@pytest.fixture
def params(tmp_path, monkeypatch):
    """A private copy of the repository's params/ that ``WORKBOOK_PARAMS`` points at, so a test
    may adopt weights or edit settings without touching the repository's files."""
    import shutil
    from pathlib import Path
    dst = tmp_path / "params"
    shutil.copytree(Path(__file__).resolve().parent.parent / "params", dst)
    monkeypatch.setenv("WORKBOOK_PARAMS", str(dst))
    monkeypatch.delenv("WORKBOOK_LOCK_TIMEOUT", raising=False)
    return dst


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
