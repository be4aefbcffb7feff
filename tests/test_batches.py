"""Several reports in one command and one report per member (``workbook report NAME... | all
[--each csm|red]``): one validation, one kernel, the same pages as single runs, failures kept per
member without stopping the others, the index grouping a batch's members.

Tests that start a kernel are marked ``slow``. The ``--each`` tests use the stand-in notebook
``tests/fixtures/notebooks/member.ipynb`` (parameters ``csm``, ``account_id``, ``fail_for``,
``die_for``), not the real ``book``/``account`` notebooks.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbook import cli, report
from workbook.errors import BadInput

NB_DIR = Path(__file__).resolve().parent / "fixtures" / "notebooks"
# What differs on every run: the run id, the generation time, the random ids of interactive tables.
_MASKS = [re.compile(r'<meta name="workbook-run" content="[^"]*">'), re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"),
          re.compile(r"wb-itable-\d+-[0-9a-f]{8}")]


def _masked(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for mask in _MASKS:
        text = mask.sub("<masked>", text)
    return text


def _run(capsys, *argv) -> tuple[int, list[str], list[str]]:
    code = cli.main(["report", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


@pytest.fixture
def no_kernel(monkeypatch):
    """Any kernel start fails the test: bad arguments must be refused before one starts."""
    def refuse(self):
        raise AssertionError("a kernel was started")
    monkeypatch.setattr(report._Kernel, "ensure_started", refuse)


# ------------------------------------------------------------------------------------------ fast


def test_all_expands_to_the_five_scheduled_reports():
    assert report.expand_names(["all"]) == ["weekly", "monthly", "post_cycle", "calibration", "dashboard"]
    assert report.expand_names(["weekly", "dashboard", "weekly"]) == ["weekly", "dashboard"]
    with pytest.raises(BadInput, match="all already means"):
        report.expand_names(["all", "weekly"])


@pytest.mark.parametrize("member", ["../../etc", "..", ".", "/abs/path", "a/b", "", "Ünïcode Name", "x" * 300])
def test_member_slug_is_a_safe_folder_name(member):
    slug = report.member_slug(member)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
    assert len(slug) <= 48


def test_member_slugs_keep_distinct_members_distinct():
    members = ["A/B", "a b", "a-b", "A B", "Ana López", "Ana Lopez"]
    assert len({report.member_slug(m) for m in members}) == len(members)
    assert report.member_slug("Ana López").startswith("ana-lopez-")


def test_exit_code_is_2_only_when_every_failure_was_bad_input():
    bad = report.ReportFailed("x", ename="BadInput", evalue="no")
    other = report.ReportFailed("x", ename="RuntimeError", evalue="boom")
    job = report.Job("x")
    assert report.BatchResult().exit_code == 0
    assert report.BatchResult(failures=[(job, bad), (job, bad)]).exit_code == 2
    assert report.BatchResult(failures=[(job, bad), (job, other)]).exit_code == 1


def test_batch_members_are_the_csms_and_the_red_accounts_of_the_health_table(sample_ws):
    from workbook.health import health_table
    as_of, csms = report.batch_members(sample_ws, "csm")
    table = health_table(sample_ws, as_of)
    assert csms == sorted(set(table["csm"].dropna().astype(str)))
    _, reds = report.batch_members(sample_ws, "red", as_of)
    assert reds == sorted(table.loc[table["colour"] == "red", "account_id"].astype(str))
    assert reds, "the sample world has red accounts"


@pytest.mark.parametrize("argv, words", [
    (["weekly", "monthly", "--each", "csm"], "--each"),
    (["all", "--each", "red"], "--each"),
    (["all", "weekly"], "all already means"),
    (["weekly", "nosuchreport"], "no report notebook nosuchreport"),
    (["standin", "--each", "csm", "--notebooks", NB_DIR], "has no parameter csm"),
    (["member", "--each", "everyone", "--notebooks", NB_DIR], "--each"),
    (["weekly", "monthly", "--from", "2024-06-02", "--to", "2024-06-30"], "--from"),
    (["all", "-p", "asks=[a]"], "has no parameter asks"),
    (["member", "--each", "csm", "-p", "csm=Ana", "--notebooks", NB_DIR], "leave -p csm out"),
])
def test_bad_arguments_exit_2_before_any_kernel(capsys, tmp_path, sample_dir, no_kernel, argv, words):
    code, out, err = _run(capsys, *argv, "--data", sample_dir, "--out", tmp_path / "out")
    assert code == 2, err
    assert words in "\n".join(err)
    assert out == []
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ kernels


@pytest.mark.slow
def test_several_names_render_the_pages_of_single_runs_in_one_kernel(capsys, tmp_path, sample_dir):
    names = ["weekly", "post_cycle"]
    for name in names:
        code, _, err = _run(capsys, name, "--data", sample_dir, "--out", tmp_path / "single")
        assert code == 0, err
    code, out, err = _run(capsys, *names, "--data", sample_dir, "--out", tmp_path / "batch")
    assert code == 0, err
    assert len(out) == 2 and all(line.endswith(".html") for line in out)
    assert sum("starting kernel" in line for line in err) == 1
    assert sum("validating" in line for line in err) == 1
    assert any(line.startswith("[2/2] post_cycle: ") for line in err)
    for name in names:
        single = next((tmp_path / "single" / name).glob(f"*/{name}.html"))
        batch = next((tmp_path / "batch" / name).glob(f"*/{name}.html"))
        assert _masked(single) == _masked(batch), name
        assert str(batch) in out
    index = (tmp_path / "batch" / "index.html").read_text(encoding="utf-8")
    assert all(f'id="{name}"' in index for name in names)


@pytest.mark.slow
def test_batch_member_failures_are_kept_and_the_others_written(capsys, tmp_path, sample_dir):
    out_dir = tmp_path / "out"
    base = ["member", "--each", "csm", "--notebooks", NB_DIR, "--data", sample_dir, "--out", out_dir]
    code, good, err = _run(capsys, *base)
    assert code == 0, err
    assert sum("starting kernel" in line for line in err) == 1
    pages = {Path(p) for p in good}
    assert len(pages) >= 3
    folder = next(iter(pages)).parent.parent
    names = json.loads((folder / "members.json").read_text(encoding="utf-8"))
    members = sorted(names.values())
    failing, dying = members[0], members[1]
    previous = {p: p.read_bytes() for p in pages}

    code, out, err = _run(capsys, *base, "-p", f"fail_for={failing}", "-p", f"die_for={dying}")
    assert code == 1
    written = {Path(p) for p in out}
    assert written == {folder / report.member_slug(m) / "member.html" for m in members[2:]}
    for member in (failing, dying):
        own = folder / report.member_slug(member)
        assert (own / "member.failed.ipynb").is_file()
        assert previous[own / "member.html"] == (own / "member.html").read_bytes()   # last good page kept
        assert any(line.startswith(f"workbook: member {member}: report 'member' failed") for line in err)
    assert any("stand-in failure" in line for line in err)
    assert sum("starting kernel" in line for line in err) == 2            # once more after the kernel died
    n = len(members)
    assert any(line.startswith(f"[{n}/{n}] ") for line in err)
    assert not list(folder.rglob("*.running.ipynb"))

    index = (out_dir / "index.html").read_text(encoding="utf-8")
    assert index.count('id="member"') == 1
    assert f"{n} members, 2 failed" in index
    for member in members:
        assert f"{report.member_slug(member)}/member.html" in index
