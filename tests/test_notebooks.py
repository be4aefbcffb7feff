"""The seven report notebooks end to end: ``workbook report NAME`` on a small world, the HTML it writes,
failures, and a headless browser. (nbval runs every notebook with its defaults as part of the
suite too: ``notebooks/`` is in ``testpaths``, see ``tests/notebook_checks.py``.)

Kernel starts are slow (2–4 s, more under load), so each report is rendered ONCE in a module
fixture and every HTML check reads that render.

The world is the session's 150-account sample world with ``<script>alert(1)</script>`` appended
to every account name: whatever table a name reaches, it must arrive escaped.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from workbook import cli, report
from workbook.workspace import open_data

from browser import open_page, require_chromium

REPO = Path(__file__).resolve().parent.parent
NAMES = ("weekly", "monthly", "post_cycle", "calibration", "dashboard", "account", "book")
AS_OF = "2026-11-15"                     # the sample world's last day, and the post-cycle example's cycle_end
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
KPI_LABELS = ("Time to value", "Onboarding completion rate", "Adoption rate", "Activation rate", "Onboarding NPS",
              "Readiness at handover", "First-90-day retention")
TITLES = {"weekly": "Weekly onboarding operating report", "monthly": "Monthly onboarding executive summary",
          "post_cycle": "Improvement cycle report", "calibration": "Health-score calibration review",
          "dashboard": "Onboarding dashboard", "account": "Account brief", "book": "CSM book of business"}
IMAGES = {"weekly": 0, "monthly": 1, "post_cycle": 1, "calibration": 3, "dashboard": 4, "account": 1, "book": 0}
REMOTE = re.compile(
    r"""(?:\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+["']?\s*)"""
    r"""(?:https?:|ftp:)?//""", re.IGNORECASE)

pytestmark = pytest.mark.slow


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``workbook ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def world(scripted_world):
    """The small sample world with script markup in every account name (tests/conftest.py)."""
    return scripted_world


@pytest.fixture(scope="module")
def members(world) -> dict[str, list[str]]:
    """The member each one-member report is rendered for: the first red account (by id) on AS_OF
    for ``account``, the first CSM (by name) for ``book``."""
    from workbook import health
    ws = open_data(world)
    try:
        h = health.health_table(ws, AS_OF)
    finally:
        ws.close()
    red = sorted(h.loc[h["colour"] == "red", "account_id"])
    return {"account": ["-p", f"account_id={red[0]}"], "book": ["-p", f"csm={sorted(h['csm'].unique())[0]}"]}


@pytest.fixture(scope="module")
def rendered(world, members, tmp_path_factory):
    """Each report rendered once by ``workbook report NAME --data WORLD --out OUT``.

    The seven commands run at the same time (the account brief and the CSM's book for the
    members of :func:`members`), each in its own process (``python -m workbook.cli``,
    i.e. ``workbook.cli.main``): a render is mostly a kernel start and imports, so running them
    side by side cuts the wall time of this module (and starting several kernels at once is what a
    scheduler does too). They write to different folders; the index is rewritten atomically by
    each. A report that fails is recorded, not raised here: only the tests of that report fail,
    each with the command's stderr, so one failure cannot hide behind 25 fixture errors.
    """
    out = tmp_path_factory.mktemp("reports")
    procs = {name: subprocess.Popen([sys.executable, "-m", "workbook.cli", "report", name, "--data", str(world),
                                     "--out", str(out), *members.get(name, [])], cwd=REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in NAMES}
    runs = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        if proc.returncode != 0:
            runs[name] = {"error": f"workbook report {name} exited {proc.returncode}:\n{stderr[-3000:]}"}
            continue
        html_path = Path(stdout.strip().splitlines()[-1])
        runs[name] = {"html": html_path, "page": html_path.read_text(encoding="utf-8"), "stderr": stderr}
    report.refresh_index(out)   # the last writer may have listed a report that was still running
    return out, runs


def run_of(rendered, name: str) -> dict:
    """The render of one report; fails (not errors) the calling test with the cause if it failed."""
    run = rendered[1][name]
    if "error" in run:
        pytest.fail(run["error"], pytrace=False)
    return run


def page_of(rendered, name: str) -> str:
    return run_of(rendered, name)["page"]


def test_every_report_rendered(rendered):
    failed = {name: run["error"] for name, run in rendered[1].items() if "error" in run}
    assert failed == {}, "\n\n".join(failed.values())


# ---------------------------------------------------------------------------- layout and index
def test_layout_index_and_executed_notebooks(rendered, world):
    out, runs = rendered
    fingerprint = open_data(world).fingerprint()
    index = (out / "index.html").read_text(encoding="utf-8")
    for name in NAMES:
        folder = out / name / AS_OF
        assert run_of(rendered, name)["html"] == folder / f"{name}.html"
        executed = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        record = executed.metadata["workbook"]["record"]
        assert record["as_of"] == AS_OF and record["fingerprint"] == fingerprint and record["weights_version"] == "v1"
        assert f'href="{name}/{AS_OF}/{name}.html"' in index
        assert not list((out / name).glob(".*")), "temp or staging files left behind"
        # progress on stderr: validated before the kernel started, then cell by cell
        lines = run_of(rendered, name)["stderr"].splitlines()
        assert lines[0] == f"{name}: validating {world}"
        assert any(line.startswith(f"{name}: starting kernel") for line in lines)
        assert any(re.match(rf"{name}: executing cell \d+/\d+", line) for line in lines)


# ---------------------------------------------------------------------------- the pages
@pytest.mark.parametrize("name", NAMES)
def test_no_code_reaches_the_page(rendered, name):
    page = page_of(rendered, name)
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if line.strip() and not line.strip().startswith("#"):
                    assert line.strip() not in page, f"code reached the page: {line!r}"
    assert "hl-ipython3" not in page and "jp-InputPrompt" not in page.split("</style>")[-1]


@pytest.mark.parametrize("name", NAMES)
def test_self_contained_with_alt_text_on_every_image(rendered, name):
    page = page_of(rendered, name)
    assert report.audit_html(page) == []
    assert not REMOTE.search(page)
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) == IMAGES[name]
    for tag in images:
        alt = re.search(r'\balt="([^"]*)"', tag)
        assert alt and len(alt.group(1).strip()) > 40, tag[:120]        # a description, not a placeholder
        assert 'src="data:image/png;base64,' in tag
    assert SCRIPT not in page


@pytest.mark.parametrize("name", [n for n in NAMES if n != "post_cycle"])   # the cycle names no account
def test_account_names_arrive_escaped(rendered, name):
    page = page_of(rendered, name)
    assert ESCAPED in page
    assert SCRIPT not in page


def test_weekly_shows_the_seven_kpis_headline_risks_wins_asks(rendered):
    page = page_of(rendered, "weekly")
    for label in KPI_LABELS:
        assert f"<td>{label}</td>" in page
    for heading in ("Headline", "The numbers", "Risks", "Wins", "Asks", "Data quality"):
        assert f">{heading}<" in page or f">{heading}<a" in page
    assert re.search(r'<p class="wb-headline">We are [^<]+ red[^<]*\.</p>', page)
    assert "First value reached" in page and "Turned green" in page
    assert "Sales: put the customer's named onboarding owner" in page          # the asks of params/weekly.yaml


def test_monthly_story_and_recommendation(rendered):
    page = page_of(rendered, "monthly")
    story = re.search(r'<p class="wb-story">([^<]+)</p>', page).group(1)
    assert 3 <= story.count(". ") + 1 <= 4
    assert story.startswith("In November 2026 to date (1–15 Nov),")
    assert re.search(r'<p class="wb-recommendation">[^<]+</p>', page)
    assert "Time to value, rolling 90-day mean" in page                    # in the chart's alt text


def test_post_cycle_five_lines_and_decision(rendered):
    page = page_of(rendered, "post_cycle")
    labels = re.findall(r"<dt>([^<]+)</dt>", page)
    assert labels == ["Hypothesis", "Intervention", "Result", "Decision", "Next cycle"]
    assert re.search(r'<span class="wb-badge wb-(green|red|amber)">(Keep|Reverse|Inconclusive — extend)</span>', page)


@pytest.mark.parametrize("name", NAMES)
def test_data_quality_section_and_provenance_line(rendered, world, name):
    page = page_of(rendered, name)
    fingerprint = open_data(world).fingerprint()
    assert ">Data quality<" in page
    assert "Validation findings" in page or "Validation found nothing" in page
    provenance = re.search(r'<p class="wb-provenance">([^<]+)</p>', page).group(1)
    assert provenance.startswith(f"Provenance: data fingerprint {fingerprint} (")
    assert "weights v1" in provenance and "workbook 0.1.0" in provenance and f"as of {AS_OF}" in provenance
    assert page.rindex("wb-provenance") > page.rindex(">Data quality<")    # the report ends with them


# ---------------------------------------------------------------------------- failures
def test_bad_data_exits_2_before_any_kernel(world, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(world, bad)
    accounts = pd.read_csv(bad / "accounts.csv", dtype=str, keep_default_na=False, na_filter=False)
    accounts.loc[[3, 7], "arr"] = "-5"
    accounts.to_csv(bad / "accounts.csv", index=False)
    out = tmp_path / "reports"
    code, stdout, stderr = run_cli("report", "weekly", "--data", str(bad), "--out", str(out))
    assert code == 2 and stdout == ""
    assert "accounts.arr" in stderr and "2 rows" in stderr and "Traceback" not in stderr
    assert "starting kernel" not in stderr
    assert not out.exists()                                            # nothing written


def test_unknown_parameter_exits_2_before_any_kernel(world, tmp_path):
    code, _, stderr = run_cli("report", "weekly", "--data", str(world), "--out", str(tmp_path), "-p", "max_risk=3")
    assert code == 2 and "max_risk" in stderr and "starting kernel" not in stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name, given, suggested", [
    ("account", "account_id=A0001", "did you mean A00001 ("),   # the nearest id first
    ("book", "csm=nadia petrof", "did you mean Nadia Petrov?"),   # CSM names: any case, close spelling
])
def test_unknown_member_exits_2_with_suggestions_and_nothing_written(world, tmp_path, name, given, suggested):
    """Through the installed executable: refused before any kernel starts, so ``--out`` stays absent."""
    out = tmp_path / "reports"
    exe = Path(sys.executable).with_name("workbook")
    proc = subprocess.run([str(exe), "report", name, "--data", str(world), "--out", str(out), "-p", given],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    value = given.split("=", 1)[1]
    assert f"'{value}'" in proc.stderr and suggested in proc.stderr and "Traceback" not in proc.stderr
    assert "starting kernel" not in proc.stderr
    assert not out.exists()


def test_notebook_failure_keeps_the_failed_notebook_and_the_last_good_report(rendered, world):
    out, runs = rendered
    good = run_of(rendered, "weekly")["html"]
    before = (good.read_bytes(), good.stat().st_mtime_ns)
    code, stdout, stderr = run_cli("report", "weekly", "--data", str(world), "--out", str(out), "--as-of", AS_OF,
                                   "-p", "max_risks=0")
    assert code == 2 and stdout == ""
    assert "report 'weekly' failed in cell 3" in stderr and "BadInput" in stderr and "max_risks" in stderr
    kept = out / "weekly" / AS_OF / "weekly.failed.ipynb"
    assert f"failed notebook kept at {kept}" in stderr
    failed = nbformat.read(kept, as_version=4)
    assert any(o.get("ename") == "BadInput" for c in failed.cells for o in c.get("outputs", []))
    assert (good.read_bytes(), good.stat().st_mtime_ns) == before
    assert "last run failed" in (out / "index.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- the browser
@pytest.mark.browser
def test_reports_open_offline_without_console_errors(rendered, tmp_path):
    if os.environ.get("WORKBOOK_SKIP_BROWSER") == "1":
        pytest.skip("WORKBOOK_SKIP_BROWSER=1")
    require_chromium()
    out, runs = rendered
    for name in NAMES:
        shot = tmp_path / f"{name}.png"
        page = open_page(run_of(rendered, name)["html"], shot, width=1280)
        assert page.console_errors == [], (name, page.console_errors)
        # blob: is the table library, imported from the page's own inline copy (tables.interactive_setup)
        assert [u for u in page.requests if not u.startswith(("file:", "data:", "blob:"))] == [], name
        # what a reader sees: the page's own title and outline, every figure decoded, real text
        assert page.title == f"{name} — {AS_OF}"
        assert page.headings[0] == TITLES[name] and page.headings[-1] == "Data quality", page.headings
        assert page.images == IMAGES[name] and page.images_loaded == page.images, name
        assert page.text_length > 1500, (name, page.text_length)
        assert shot.stat().st_size > 20_000 and page.height > 1000


# ---------------------------------------------------------------------------- the notebook files
def test_notebooks_are_committed_clean():
    for name in NAMES:
        raw = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        assert raw["metadata"]["kernelspec"]["name"] == "python3"
        assert raw["metadata"]["language_info"]["name"] == "python"
        first = raw["cells"][0]
        assert first["cell_type"] == "code" and "parameters" in first["metadata"]["tags"]
        for cell in raw["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
        # the defaults file's keys are all parameters of the notebook (plain papermill -f works)
        defaults = report.defaults_path(name)
        keys = set((yaml.safe_load(defaults.read_text(encoding="utf-8")) or {}) if defaults.is_file() else {})
        assert keys <= set(report.notebook_parameters(REPO / "notebooks" / f"{name}.ipynb")), name


def test_backfill_arguments_are_checked_before_any_kernel(world, tmp_path):
    code, _, stderr = run_cli("report", "weekly", "--data", str(world), "--out", str(tmp_path), "--from", "2026-11-01")
    assert code == 2 and "--to" in stderr
    code, _, stderr = run_cli("report", "weekly", "--data", str(world), "--out", str(tmp_path), "--from", "2026-11-01",
                              "--to", "2026-11-15", "--as-of", "2026-11-15")
    assert code == 2 and "--as-of" in stderr
    assert not any(tmp_path.iterdir())


def test_data_defaults_to_the_environment_then_data_sample(monkeypatch, tmp_path):
    monkeypatch.delenv("WORKBOOK_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    # no ./data/sample here: the repository's data/sample is the fallback (it may not exist yet)
    assert report.resolve_data(None) in (Path("data/sample"), REPO / "data" / "sample")
    monkeypatch.setenv("WORKBOOK_DATA", str(tmp_path / "w"))
    assert report.resolve_data(None) == tmp_path / "w"
    assert report.resolve_data("elsewhere") == Path("elsewhere")
    (tmp_path / "data" / "sample").mkdir(parents=True)
    monkeypatch.delenv("WORKBOOK_DATA")
    assert report.resolve_data(None) == Path("data/sample")            # the current directory wins


# ---------------------------------------------------------------------------- what a reader sees
# Every KPI value, n and red account on the weekly and monthly pages, read back from the HTML,
# against the package's own functions on the same world. The expected display is worked out here
# from the raw numbers (rates × 100, one decimal), not with the package's formatter.
KPI_KEYS = dict(zip(KPI_LABELS, ("time_to_value_days", "onboarding_completion_rate", "adoption_rate",
                                 "activation_rate", "onboarding_nps", "readiness_at_handover",
                                 "first_90_day_retention")))
RATES = {"onboarding_completion_rate", "adoption_rate", "activation_rate", "first_90_day_retention"}


def _shown(key: str, value) -> float | None:
    if value is None:
        return None
    return round(100 * value, 1) if key in RATES else round(value, 1)


@pytest.mark.parametrize("name, period", [("weekly", "week"), ("monthly", "month")])
def test_kpi_tables_show_the_package_figures(rendered, world, name, period):
    from pagetables import number, tables
    from workbook import kpis

    page = page_of(rendered, name)
    ws = open_data(world)
    try:
        expected = kpis.compute(ws, AS_OF, period=period)["kpis"]
    finally:
        ws.close()
    kpi_tables = [t for t in tables(page) if t["header"][:2] == ["KPI", "Value"]]
    assert len(kpi_tables) == 1
    rows = {r["KPI"]: r for r in kpi_tables[0]["rows"]}
    assert set(rows) == set(KPI_LABELS)
    for label, key in KPI_KEYS.items():
        row, kpi = rows[label], expected[key]
        if kpi["value"] is None:
            assert row["Value"] == "no data" and row["n"] == "—" and kpi["n"] == 0, (label, row)
        else:
            assert int(number(row["n"])) == kpi["n"], (label, row)
            assert number(row["Value"]) == pytest.approx(_shown(key, kpi["value"]), abs=0.051), (label, row, kpi)


def test_weekly_red_accounts_are_the_package_reds(rendered, world):
    from pagetables import number, table
    from workbook import health

    page = page_of(rendered, "weekly")
    ws = open_data(world)
    try:
        h = health.health_table(ws, AS_OF)
    finally:
        ws.close()
    reds = h[h["colour"] == "red"].sort_values(["arr", "account_id"], ascending=[False, True])
    shown = table(page, "Red accounts, largest ARR first")
    assert shown["caption"] == f"Red accounts, largest ARR first ({min(10, len(reds))} of {len(reds)})"
    assert len(shown["rows"]) == min(10, len(reds))
    for row, (_, acc) in zip(shown["rows"], reds.iterrows()):
        assert row["Account"] == " ".join(acc["name"].split()) and row["Owner"] == acc["csm"]
        assert number(row["ARR"]) == pytest.approx(acc["arr"], abs=0.5)
        assert number(row["Score"]) == pytest.approx(acc["score"], abs=0.5)
        assert row["Lowest dimension"] == acc["lowest_dimension"]


def test_monthly_revenue_and_renewals_show_the_package_figures(rendered, world):
    """The monthly page's revenue table and renewal sentence are the package's numbers."""
    import html as _html
    import re

    from pagetables import number, tables
    from workbook import renewals, revenue

    page = page_of(rendered, "monthly")
    ws = open_data(world)
    try:
        expected = revenue.compute(ws, AS_OF, "month")
        forecast = renewals.renewal_forecast(ws, AS_OF, 90)
    finally:
        ws.close()
    revenue_tables = [t for t in tables(page) if t["header"][:2] == ["Revenue KPI", "Value"]]
    assert len(revenue_tables) == 1
    rows = {r["Revenue KPI"]: r for r in revenue_tables[0]["rows"]}
    grr = expected["grr"]
    assert int(number(rows["Gross revenue retention"]["n"])) == grr["n"]
    assert number(rows["Gross revenue retention"]["Value"]) == pytest.approx(round(100 * grr["value"], 1), abs=0.051)
    s = forecast.summary
    text = re.sub(r"\s+", " ", _html.unescape(page))
    assert f"{s['n']:,} renewals due by {forecast.end:%Y-%m-%d} (the next 90 days)" in text
    assert f"{s['expected_renewals']:.1f} expected to renew (95 % interval {s['interval'][0]:,} to " \
           f"{s['interval'][1]:,})" in text
