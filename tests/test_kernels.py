"""Kernels started side by side, and what a run leaves behind in the temp directory.

Every test runs ``workbook`` in separate processes with a private ``TMPDIR``, so what is left in
the temp directory afterwards was left by those runs and nothing else on the machine.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from workbook import report

NB_DIR = Path(__file__).parent / "fixtures" / "notebooks"
REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

RENDER = ("import sys; from workbook import report; "
          "r = report.render(sys.argv[1], notebook_dir=sys.argv[2], out=sys.argv[3], as_of=sys.argv[4], "
          "data=(sys.argv[5] or None), parameters={'seconds': float(sys.argv[6])} if sys.argv[1] == 'sleepy' else None); "
          "print(r.html)")


def _start(name, out, as_of, tmpdir, *, data="", seconds=0.0, **kw):
    env = dict(os.environ, TMPDIR=str(tmpdir))
    return subprocess.Popen([sys.executable, "-c", RENDER, name, str(NB_DIR), str(out), as_of, str(data),
                             str(seconds)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _in_sleeping_cell(path: Path) -> bool:
    """Whether the staging notebook shows the sleeping cell started.

    papermill rewrites the staging notebook in place (truncate, then write) after every cell, so a
    read can see an empty or half-written file: that is "not yet", not an error.
    """
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except (OSError, ValueError):        # gone, empty or cut short mid-write (NotJSONError is a ValueError)
        return False
    return any(c.get("outputs") or c.get("execution_count") for c in nb.cells[2:3])


def test_ten_reports_started_at_once_all_render(tmp_path):
    """Ten kernels start in the same moment; none may die on a port another one took."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "reports"
    days = [f"2024-06-{d:02d}" for d in range(1, 11)]
    procs = [_start("standin", out, day, tmpdir) for day in days]
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in procs]
    failed = [err[-2000:] for code, _, err in results if code != 0]
    assert failed == [], "\n---\n".join(failed)
    for day, (_, stdout, _) in zip(days, results):
        assert Path(stdout.strip()) == out / "standin" / day / "standin.html"
        assert (out / "standin" / day / "standin.html").is_file()
    assert sorted(p.name for p in tmpdir.iterdir()) == []       # no kernel or DuckDB folders left


def test_kernels_talk_over_private_unix_sockets(tmp_path):
    """The kernel uses the ipc transport in a directory of its own, removed when it stops."""
    with report._Kernel("python3") as kernel:
        km = kernel.ensure_started()
        home = Path(kernel.home)
        assert km.transport == "ipc" and Path(km.ip).parent == home
        assert home.name.startswith(f"workbook-kernel-{os.getpid()}-")
        client = km.client()
        client.start_channels()
        try:
            from jupyter_core.utils import run_sync
            run_sync(client.wait_for_ready)(timeout=120)
        finally:
            client.stop_channels()
        assert sum(p.is_socket() for p in home.iterdir()) == 5      # shell, iopub, stdin, control, hb
    assert not home.exists()


def test_a_workspace_left_open_in_the_notebook_leaves_nothing_in_tmp(tmp_path, sample_dir):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = _start("sleepy", tmp_path / "reports", "2024-06-30", tmpdir, data=sample_dir)
    code = proc.wait(timeout=300)
    assert code == 0, proc.stderr.read()[-2000:]
    assert list(tmpdir.iterdir()) == []


def test_a_killed_run_is_cleaned_up_by_the_next(tmp_path, sample_dir):
    """SIGKILL mid-report leaves a staging notebook and a kernel folder; the next run removes both
    and leaves the last good report as it was."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "reports"
    good = _start("sleepy", out, "2024-06-30", tmpdir)
    assert good.wait(timeout=300) == 0, good.stderr.read()[-2000:]
    html = out / "sleepy" / "2024-06-30" / "sleepy.html"
    before = html.read_bytes()

    doomed = _start("sleepy", out, "2024-06-30", tmpdir, data=sample_dir, seconds=120, start_new_session=True)
    deadline = time.monotonic() + 180
    staging: list[Path] = []
    while time.monotonic() < deadline and not staging:
        time.sleep(0.5)
        staging = list((out / "sleepy").glob(".sleepy.*.running.ipynb"))
        if staging and not _in_sleeping_cell(staging[0]):    # wait until the kernel is in it
            staging = []
    assert staging, "the run never reached its sleeping cell"
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=30)
    time.sleep(1)
    assert any(p.name.startswith("workbook-kernel-") for p in tmpdir.iterdir())   # what a kill leaves

    again = _start("sleepy", out, "2024-06-30", tmpdir)
    assert again.wait(timeout=300) == 0, again.stderr.read()[-2000:]
    assert list((out / "sleepy").glob(".*")) == []
    assert list(tmpdir.iterdir()) == []
    assert html.is_file() and html.read_bytes() != b""


def test_page_and_notebook_always_come_from_the_same_run(tmp_path):
    """Four runs of one report for one date publish into one folder: the page and the notebook
    left there carry the same run id."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "reports"
    procs = [_start("standin", out, "2024-06-30", tmpdir) for _ in range(4)]
    assert [p.wait(timeout=600) for p in procs] == [0] * 4
    folder = out / "standin" / "2024-06-30"
    page = (folder / "standin.html").read_text(encoding="utf-8")
    run = nbformat.read(folder / "standin.ipynb", as_version=4).metadata["workbook"]["run"]
    assert f'<meta name="workbook-run" content="{run}">' in page
    assert sorted(p.name for p in folder.iterdir()) == ["standin.html", "standin.ipynb"]
