"""Rendering reports: papermill execution, self-contained HTML, atomic writes, failures, index, backfill.

The notebooks here are small stand-ins (tests/fixtures/notebooks); each render starts a kernel, so
the renders are module fixtures shared by several tests, and the tests that need one are marked
``slow`` (``-m "not slow"`` runs the rest in a second).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from workbook import report
from workbook.errors import BadInput
from workbook.report import ReportFailed

from browser import open_page, require_chromium

NB_DIR = Path(__file__).parent / "fixtures" / "notebooks"
REPO = Path(__file__).resolve().parent.parent

REMOTE = re.compile(
    r"""(?:\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+["']?\s*)"""
    r"""(?:https?:|ftp:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def params_dir(tmp_path_factory):
    """An isolated params directory: ``standin.yaml`` sets rows to 2."""
    directory = tmp_path_factory.mktemp("params")
    (directory / "standin.yaml").write_text("rows: 2\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBOOK_PARAMS", str(directory))
        yield directory


@pytest.fixture(scope="module")
def standin(tmp_path_factory, params_dir):
    """One render of the stand-in notebook: (result, out dir, html text, progress lines)."""
    out = tmp_path_factory.mktemp("reports")
    lines: list[str] = []
    result = report.render("standin", notebook_dir=NB_DIR, out=out, parameters={"title": "Stand-in <b>"},
                           progress=lines.append)
    return result, out, result.html.read_text(encoding="utf-8"), lines


@pytest.fixture(scope="module")
def failures(tmp_path_factory, params_dir):
    """A good render of ``failing``, then failing renders of it.

    Returns the good result, the out dir, the good files' (bytes, mtime) and, per failure mode,
    the ReportFailed raised with the text of the notebook it kept (each failure replaces it).
    """
    out = tmp_path_factory.mktemp("reports")
    good = report.render("failing", notebook_dir=NB_DIR, out=out, as_of="2024-06-30")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (good.html, good.notebook)}
    raised = {}
    for mode in ("error", "bad_input", "remote"):
        with pytest.raises(ReportFailed) as info:
            report.render("failing", notebook_dir=NB_DIR, out=out, as_of="2024-06-30", parameters={"fail": mode})
        raised[mode] = (info.value, info.value.failed_notebook.read_text(encoding="utf-8"))
    with pytest.raises(ReportFailed) as info:
        report.render("failing", notebook_dir=NB_DIR, out=out, parameters={"fail": "early"})
    raised["early"] = (info.value, info.value.failed_notebook.read_text(encoding="utf-8"))
    return good, out, before, raised


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory, params_dir):
    out = tmp_path_factory.mktemp("reports")
    lines: list[str] = []
    results = report.backfill("standin", "2024-06-02", "2024-06-20", notebook_dir=NB_DIR, out=out,
                              progress=lines.append)
    return results, out, lines


def _code_sources(name: str) -> list[str]:
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


# --------------------------------------------------------------------------------------------
# A successful render


@pytest.mark.slow
def test_html_and_executed_notebook_written_under_out_name_as_of(standin):
    result, out, _, _ = standin
    folder = out / "standin" / "2024-06-30"
    assert result.as_of == "2024-06-30"
    assert result.html == folder / "standin.html"
    assert result.notebook == folder / "standin.ipynb"
    assert sorted(p.name for p in folder.iterdir()) == ["standin.html", "standin.ipynb"]
    executed = nbformat.read(result.notebook, as_version=4)
    assert executed.metadata["workbook"]["record"] == {"as_of": "2024-06-30", "weights_version": "v1",
                                                      "fingerprint": "stand-in"}
    assert report.read_record(executed)["weights_version"] == "v1"
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")
    assert oct(result.html.stat().st_mode & 0o777) == "0o644"


@pytest.mark.slow
def test_parameters_merge_yaml_defaults_then_explicit_values(standin):
    result, _, page, _ = standin
    assert result.parameters == {"rows": 2, "title": "Stand-in <b>"}
    assert "Stand-in &lt;b&gt;: 2 accounts as of 2024-06-30" in page


@pytest.mark.slow
def test_no_code_reaches_the_html(standin):
    _, _, page, _ = standin
    assert "SOURCE-MARKER-7f3a" not in page
    assert 'class="jp-CodeMirrorEditor' not in page and 'class="jp-InputPrompt' not in page
    for source in _code_sources("standin"):
        for line in source.splitlines():
            if len(line.strip()) > 12:
                assert line.strip() not in page, line


@pytest.mark.slow
def test_html_is_self_contained(standin):
    _, _, page, _ = standin
    assert not REMOTE.findall(page)
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<script[^>]+src=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]+href=", page, re.IGNORECASE)
    assert report.audit_html(page) == []


@pytest.mark.slow
def test_every_image_is_embedded_with_alt_text(standin):
    _, _, page, _ = standin
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) == 2
    for tag in images:
        assert 'src="data:image/png;base64,' in tag
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and alt.group(1).strip()
    assert "Target 25.0 d (lower is better): latest is on target." in page
    assert 'alt="Bar chart: 2 red, 3 amber, 5 green accounts."' in page


@pytest.mark.slow
def test_table_values_are_escaped(standin):
    _, _, page, _ = standin
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page.lower()
    assert "Acme &amp; Co" in page
    assert '<span class="wb-badge wb-red">red</span>' in page


@pytest.mark.slow
def test_record_output_and_stderr_are_left_out_of_the_html(standin):
    result, _, page, _ = standin
    assert "workbook record" not in page and report.RECORD_MIME not in page
    assert "DIAGNOSTIC-ON-STDERR" not in page
    executed = result.notebook.read_text(encoding="utf-8")
    assert "DIAGNOSTIC-ON-STDERR" in executed and report.RECORD_MIME in executed


@pytest.mark.slow
def test_progress_reports_each_code_cell(standin):
    result, _, _, lines = standin
    total = sum(1 for c in nbformat.read(result.notebook, as_version=4).cells if c.cell_type == "code")
    assert [f"standin: executing cell {n}/{total}" for n in range(1, total + 1)] == \
        [line for line in lines if "executing cell" in line]
    assert lines[0] == "standin: starting kernel python3"
    assert lines[-1].startswith(f"standin: wrote {result.html}")


@pytest.mark.slow
def test_index_links_the_report(standin):
    result, out, _, _ = standin
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="standin/2024-06-30/standin.html"' in index
    assert 'href="standin/2024-06-30/standin.ipynb"' in index
    assert "http" not in index


# --------------------------------------------------------------------------------------------
# Failures


@pytest.mark.slow
def test_failure_names_the_cell_and_keeps_the_failed_notebook(failures):
    _, out, _, raised = failures
    failure, kept_text = raised["error"]
    assert (failure.name, failure.cell_index, failure.ename, failure.evalue) == \
        ("failing", 5, "RuntimeError", "stand-in failure")
    assert failure.exit_code == 1 and not failure.bad_input
    assert failure.failed_notebook == out / "failing" / "2024-06-30" / "failing.failed.ipynb"
    kept = nbformat.reads(kept_text, as_version=4)
    errors = [o for c in kept.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [e.evalue for e in errors] == ["stand-in failure"]
    assert "cell 5" in str(failure) and str(failure.failed_notebook) in str(failure)


@pytest.mark.slow
def test_cell_index_counts_cells_of_the_source_notebook(failures):
    _, _, _, raised = failures
    source = nbformat.read(NB_DIR / "failing.ipynb", as_version=4)
    assert "stand-in failure" in source.cells[raised["error"][0].cell_index].source


@pytest.mark.slow
def test_bad_input_in_the_notebook_means_exit_code_2(failures):
    _, _, _, raised = failures
    failure, _ = raised["bad_input"]
    assert failure.ename == "BadInput" and failure.bad_input and failure.exit_code == 2
    assert "accounts.arr: must be >= 0" in failure.evalue


@pytest.mark.slow
def test_previous_good_report_is_untouched(failures):
    good, _, before, _ = failures
    for path, (content, mtime) in before.items():
        assert path.read_bytes() == content
        assert path.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_no_temporary_files_are_left_behind(failures):
    _, out, _, _ = failures
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []


@pytest.mark.slow
def test_html_that_would_load_from_the_network_is_refused(failures):
    _, _, _, raised = failures
    failure, _ = raised["remote"]
    assert failure.ename == "NotSelfContained" and failure.cell_index is None
    assert "https://example.com/tracker.png" in failure.evalue
    assert failure.failed_notebook.name == "failing.failed.ipynb"


@pytest.mark.slow
def test_failure_before_as_of_is_known_keeps_the_notebook_under_unknown(failures):
    _, out, _, raised = failures
    failure, kept_text = raised["early"]
    assert failure.cell_index == 2
    assert failure.failed_notebook == out / "failing" / "unknown" / "failing.failed.ipynb"
    assert failure.failed_notebook.is_file() and "failed before recording as_of" in kept_text


@pytest.mark.slow
def test_index_shows_kept_failures(failures):
    _, out, _, _ = failures
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="failing/2024-06-30/failing.html"' in index
    assert 'href="failing/unknown/failing.failed.ipynb"' in index


@pytest.mark.parametrize("kwargs, words", [
    ({"name": "nosuch"}, "no report notebook nosuch.ipynb"),
    ({"name": "../standin"}, "report name"),
    ({"name": "standin", "parameters": {"colour": "red"}}, "no parameter colour"),
    ({"name": "standin", "as_of": "2024-02-30"}, "is not a calendar day (YYYY-MM-DD)"),
    ({"name": "standin", "parameters": {"as_of": "last week"}}, "must be a date"),
])
def test_bad_arguments_are_bad_input_and_run_nothing(tmp_path, params_dir, kwargs, words):
    name = kwargs.pop("name")
    with pytest.raises(BadInput, match=re.escape(words)):
        report.render(name, notebook_dir=NB_DIR, out=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# Backfill and the index


@pytest.mark.slow
def test_backfill_renders_one_report_per_week_in_one_kernel(backfilled):
    results, out, lines = backfilled
    assert [r.as_of for r in results] == ["2024-06-02", "2024-06-09", "2024-06-16"]
    for result in results:
        assert result.html == out / "standin" / result.as_of / "standin.html"
        assert f"2 accounts as of {result.as_of}" in result.html.read_text(encoding="utf-8")
    assert sum(1 for line in lines if "starting kernel" in line) == 1
    assert "standin: backfill 3/3 as_of 2024-06-16" in lines


@pytest.mark.slow
def test_reused_kernel_starts_each_run_fresh(backfilled):
    results, _, _ = backfilled
    counts = [[c.execution_count for c in nbformat.read(r.notebook, as_version=4).cells if c.cell_type == "code"]
              for r in results]
    assert counts[0] == counts[1] == counts[2]
    assert counts[0][0] == 1


@pytest.mark.slow
def test_index_lists_reports_newest_first_with_working_links(backfilled):
    _, out, _ = backfilled
    index = (out / "index.html").read_text(encoding="utf-8")
    dates = re.findall(r"<td>(\d{4}-\d{2}-\d{2})</td>", index)
    assert dates == ["2024-06-16", "2024-06-09", "2024-06-02"]
    for href in re.findall(r'href="([^"]+)"', index):
        assert (out / href).is_file(), href


def test_index_escapes_names_and_groups_per_report(tmp_path):
    for name, day in [("a<b", "2024-01-07"), ("weekly", "2024-01-07"), ("weekly", "2024-01-14")]:
        folder = tmp_path / name / day
        folder.mkdir(parents=True)
        (folder / f"{name}.html").write_text("x", encoding="utf-8")
    (tmp_path / "weekly" / ".staging").mkdir()
    index = report.refresh_index(tmp_path).read_text(encoding="utf-8")
    assert "<h2 id=\"a&lt;b\">a&lt;b</h2>" in index and "<b" not in index.replace("<body", "")
    assert 'href="a%3Cb/2024-01-07/a%3Cb.html"' in index
    weekly = index[index.index(">weekly<"):]
    assert weekly.index("2024-01-14") < weekly.index("2024-01-07")
    assert ".staging" not in index


def test_backfill_dates():
    assert report.backfill_dates("2024-01-01", "2024-01-15") == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert report.backfill_dates("2024-01-01", "2024-01-14") == ["2024-01-01", "2024-01-08"]
    assert report.backfill_dates("2024-01-01", "2024-01-01") == ["2024-01-01"]
    with pytest.raises(BadInput, match="before"):
        report.backfill_dates("2024-01-08", "2024-01-01")


# --------------------------------------------------------------------------------------------
# Plain papermill


@pytest.mark.slow
def test_plain_papermill_with_a_parameters_file(tmp_path):
    params = tmp_path / "standin.yaml"
    params.write_text(yaml.safe_dump({"as_of": "2024-05-05", "rows": 1}), encoding="utf-8")
    executed = tmp_path / "out.ipynb"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-m", "papermill", str(NB_DIR / "standin.ipynb"), str(executed),
                           "-f", str(params), "--no-progress-bar"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(executed, as_version=4)
    assert report.read_record(nb)["as_of"] == "2024-05-05"
    text = json.dumps(nb)
    assert "1 accounts as of 2024-05-05" in text


# --------------------------------------------------------------------------------------------
# Small pieces


def test_parse_parameter_reads_yaml_values():
    assert report.parse_parameter("n=3") == ("n", 3)
    assert report.parse_parameter("flag=true") == ("flag", True)
    assert report.parse_parameter("as_of=2024-06-30") == ("as_of", "2024-06-30")
    assert report.parse_parameter("ids=[a, b]") == ("ids", ["a", "b"])
    assert report.parse_parameter("note=a: b") == ("note", "a: b")
    assert report.parse_parameter("empty=") == ("empty", "")
    assert report.parse_parameter("account_id=00123") == ("account_id", "00123")   # an id keeps its zeros
    assert report.parse_parameter("n=0") == ("n", 0) and report.parse_parameter("x=0.5") == ("x", 0.5)
    with pytest.raises(BadInput):
        report.parse_parameter("no-equals")


def test_notebook_parameters_reads_the_tagged_cell():
    assert report.notebook_parameters(NB_DIR / "standin.ipynb") == {
        "data": "None", "as_of": "None", "title": '"Stand-in report"', "rows": "3"}


def test_recorded_values_and_record_outside_a_kernel():
    import datetime as dt
    values = report.recorded_values(as_of=dt.datetime(2024, 6, 30, 15, 0), weights_version="v2", fingerprint=None)
    assert values == {"as_of": "2024-06-30", "weights_version": "v2"}
    assert report.record(as_of="2024-06-30") is None  # no kernel: publishes nothing, raises nothing
    with pytest.raises(BadInput):
        report.recorded_values(as_of="June")


def test_read_record_merges_outputs_in_order():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x"), nbformat.v4.new_code_cell("y")])
    record = report.RECORD_MIME
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", {record: {"as_of": "2024-01-01", "a": 1}})]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", {record: {"as_of": "2024-01-07"}})]
    assert report.read_record(nb) == {"as_of": "2024-01-07", "a": 1}


@pytest.mark.parametrize("snippet", [
    '<script src="https://cdn.example.com/require.js"></script>',
    '<link rel="stylesheet" href="http://example.com/x.css">',
    '<img src="//example.com/x.png" alt="x">',
    '<style>@import "https://fonts.example.com/f.css";</style>',
    '<div style="background: url(\'https://example.com/bg.png\')"></div>',
    '<img src="data:image/png;base64,AAAA">',
    '<img src="data:image/png;base64,AAAA" alt="  ">',
])
def test_audit_html_flags_remote_loads_and_missing_alt(snippet):
    assert report.audit_html(f"<html><body>{snippet}</body></html>")


def test_audit_html_accepts_local_anchors_and_data_images():
    page = '<a href="#risks">Risks</a><img src="data:image/png;base64,AAAA" alt="A chart">'
    assert report.audit_html(page) == []


def test_report_failed_exit_codes():
    assert ReportFailed("weekly", ename="BadInput", evalue="x").exit_code == 2
    assert ReportFailed("weekly", ename="KeyError", evalue="x").exit_code == 1
    text = str(ReportFailed("weekly", ename="KeyError", evalue="'csm'", cell_index=4, exec_count=3))
    assert text == "report 'weekly' failed in cell 4 (In [3]): KeyError: 'csm'"


# --------------------------------------------------------------------------------------------
# In a browser


@pytest.mark.slow
@pytest.mark.browser
def test_report_opens_offline_without_console_errors(standin, tmp_path):
    require_chromium()
    result, out, _, _ = standin
    for page in (result.html, out / "index.html"):
        shot = tmp_path / f"{page.stem}.png"
        seen = open_page(page, shot)
        assert seen.console_errors == [], seen.console_errors
        assert seen.remote_requests == [], seen.remote_requests
        assert shot.is_file() and shot.stat().st_size > 10_000
    assert seen.title == "Reports"


def test_images_without_alt_get_a_fallback_and_a_warning(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("fig"), nbformat.v4.new_code_cell("img")])
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", {"image/png": png,
                                                                   "text/plain": "<Figure size 640x480 with 1 Axes>"})]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", {"image/png": png, "text/plain": "Two dots."})]
    lines: list[str] = []
    page = report._to_html(nb, "x", "2024-01-07", tmp_path, lines.append)
    assert 'alt="Figure (no description provided)"' in page and 'alt="Two dots."' in page
    assert lines == ["x: warning: 1 image(s) without alt text; show figures with plots.show()"]
