"""Validation receipts: a successful validation is written down and stands for the checks while the
source's files, the contract and the package are unchanged (docs/data-contract.md)."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from workbook import workspace
from workbook.cli import main
from workbook.errors import BadInput
from workbook.workspace import RECEIPT_NAME, Workspace, open_data, receipt_paths

from test_workspace import MILESTONES, USAGE, write_world

# a repeated milestone (a warning) and a far-future churn date (a warning): both must survive a receipt
WARN_MILESTONES = MILESTONES + "A1,kickoff,2025-01-20\n"


@pytest.fixture(autouse=True)
def _receipts(tmp_path, monkeypatch):
    """Receipts under a private cache folder; files count as settled 50 ms after their last change."""
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(workspace, "RECEIPT_SETTLE_SECONDS", 0.05)


def settled(path: Path) -> Path:
    time.sleep(0.1)
    return path


def world(tmp_path: Path, **tables) -> Path:
    return settled(write_world(tmp_path / "w", milestones=WARN_MILESTONES, **tables))


def no_checks(monkeypatch):
    """Make every validation step fail loudly: an open that still succeeds did not validate."""
    def refuse(*args, **kwargs):
        raise AssertionError("validation ran")
    for name in ("_run_checks", "_check_unique", "_check_foreign_keys", "_validate_and_type"):
        monkeypatch.setattr(Workspace, name, refuse)
    monkeypatch.setattr(workspace.queries, "usage_date_range", refuse)   # default_as_of: no scan either


def state(ws: Workspace) -> tuple:
    return (ws.findings, ws.row_counts(), ws.usage_date_range, ws.default_as_of(),
            ws.frame("accounts").to_dict("list"), ws.frame("milestones").to_dict("list"),
            ws.sql("SELECT * FROM usage ORDER BY ALL").to_dict("list"),
            ws.sql("SELECT * FROM milestones ORDER BY ALL").to_dict("list"), sorted(ws._typed))


def test_second_open_reuses_the_receipt_without_validating(tmp_path, monkeypatch):
    src = world(tmp_path)
    with open_data(src) as first:
        assert first.revalidated and first.receipt == src / RECEIPT_NAME
        assert [f.severity for f in first.findings] == ["warning"]          # the repeated milestone
        expected = state(first)
    receipt = json.loads((src / RECEIPT_NAME).read_text())
    assert set(receipt["key"]["files"]) == {"accounts.csv", "milestones.csv", "usage.csv", "surveys.csv"}
    assert receipt["key"]["contract"] == workspace.CONTRACT_VERSION
    no_checks(monkeypatch)
    with open_data(src) as again:
        assert not again.revalidated and again.receipt == src / RECEIPT_NAME
        assert state(again) == expected


def test_health_csv_is_identical_with_a_receipt(sample_dir, tmp_path, monkeypatch, capsys):
    src = settled(Path(shutil.copytree(sample_dir, tmp_path / "world")))
    assert main(["health", "--data", str(src), "--format", "csv", "--revalidate"]) == 0
    validated = capsys.readouterr().out
    assert (src / RECEIPT_NAME).exists()
    no_checks(monkeypatch)
    assert main(["health", "--data", str(src), "--format", "csv"]) == 0
    assert capsys.readouterr().out == validated


def test_validate_prints_the_same_with_a_receipt(tmp_path, monkeypatch, capsys):
    src = world(tmp_path)
    assert main(["validate", "--data", str(src)]) == 0
    first = capsys.readouterr().out
    no_checks(monkeypatch)
    assert main(["validate", "--data", str(src)]) == 0
    assert capsys.readouterr().out == first
    assert "repeats for the same account" in first


def _same_size_change(src: Path) -> None:
    text = (src / "usage.csv").read_text()
    (src / "usage.csv").write_text(text.replace("A1,2025-02-01,core,3,40", "A1,2025-02-01,core,3,41"))


def _size_change(src: Path) -> None:
    (src / "usage.csv").write_text(USAGE + "A3,2025-04-03,core,5,1\n")


def _touch(src: Path) -> None:
    st = (src / "usage.csv").stat()
    os.utime(src / "usage.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _replace(src: Path) -> None:                     # same bytes, new file (new inode and ctime)
    shutil.copy(src / "usage.csv", src / "usage.new")
    os.replace(src / "usage.new", src / "usage.csv")


def _new_table(src: Path) -> None:
    (src / "advocacy.csv").write_text("account_id,date,kind\nA1,2025-03-01,reference\n")


@pytest.mark.parametrize("change", [_same_size_change, _size_change, _touch, _replace, _new_table])
def test_a_changed_source_is_validated_again(tmp_path, change):
    src = world(tmp_path)
    open_data(src).close()
    size = (src / "usage.csv").stat().st_size
    change(src)
    if change is _same_size_change:
        assert (src / "usage.csv").stat().st_size == size
    with open_data(settled(src)) as ws:
        assert ws.revalidated
        total = ws.sql("SELECT sum(actions) AS n FROM usage")["n"].iloc[0]
        assert total == {_same_size_change: 396, _size_change: 396}.get(change, 395)   # 395 before
    with open_data(src) as ws:                          # ... and then the new receipt holds
        assert not ws.revalidated


def test_receipts_of_another_contract_or_package_are_ignored(tmp_path, monkeypatch):
    src = world(tmp_path)
    open_data(src).close()
    path = src / RECEIPT_NAME
    for field in ("contract", "workbook", "duckdb", "format"):
        receipt = json.loads(path.read_text())
        receipt["key"][field] = "something else"
        path.write_text(json.dumps(receipt))
        with open_data(src) as ws:
            assert ws.revalidated
        assert json.loads(path.read_text())["key"][field] != "something else"     # overwritten
    monkeypatch.setattr(workspace, "CONTRACT_VERSION", "a-changed-rule")           # a rule changed
    with open_data(src) as ws:
        assert ws.revalidated
    assert json.loads(path.read_text())["key"]["contract"] == "a-changed-rule"


@pytest.mark.parametrize("text", ["{not json", "[]", '{"key": 1}', None])
def test_a_corrupt_receipt_is_ignored_then_overwritten(tmp_path, text):
    src = world(tmp_path)
    open_data(src).close()
    path = src / RECEIPT_NAME
    good = json.loads(path.read_text())
    if text is None:            # the right key, a broken body
        text = json.dumps({**good, "rows": "many", "findings": [{"severity": "warning"}]})
    path.write_text(text)
    with open_data(src) as ws:
        assert ws.revalidated and [f.severity for f in ws.findings] == ["warning"]
    assert json.loads(path.read_text()) == good


def test_revalidate_forces_the_checks(tmp_path, monkeypatch, capsys):
    src = world(tmp_path)
    open_data(src).close()
    with open_data(src, revalidate=True) as ws:
        assert ws.revalidated
    calls = []
    real = Workspace._run_checks
    monkeypatch.setattr(Workspace, "_run_checks", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    assert main(["kpis", "--data", str(src), "--format", "json"]) == 0 and calls == []
    assert main(["kpis", "--data", str(src), "--format", "json", "--revalidate"]) == 0 and calls
    capsys.readouterr()


@pytest.mark.parametrize("argv", [["validate"], ["kpis"], ["health"], ["calibrate"], ["report", "weekly"]])
def test_every_command_that_reads_data_takes_revalidate(argv):
    from workbook.cli import build_parser
    args = build_parser().parse_args([*argv, "--data", "x", "--revalidate"])
    assert args.revalidate is True


def test_an_unwritable_data_folder_uses_the_cache_folder(tmp_path, monkeypatch):
    src = world(tmp_path)
    (src / RECEIPT_NAME).mkdir()          # the receipt cannot be written there, even by root
    with open_data(src) as ws:
        cached = receipt_paths(src)[1]
        assert ws.receipt == cached and cached.parent.parent == tmp_path / "cache"
    no_checks(monkeypatch)
    with open_data(src) as ws:
        assert ws.receipt == cached and not ws.revalidated


def test_cache_folder_default_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("WORKBOOK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert workspace.cache_dir() == tmp_path / "xdg" / "workbook"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert workspace.cache_dir() == Path.home() / ".cache" / "workbook"


def test_read_only_everywhere_skips_the_receipt_with_a_note(tmp_path, monkeypatch, capsys):
    src = world(tmp_path)
    (src / RECEIPT_NAME).mkdir()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(blocker))      # mkdir under a file fails, even for root
    notes = []
    with open_data(src, progress=notes.append) as ws:
        assert ws.receipt is None and ws.findings
    assert len(notes) == 1 and "validation receipt not written" in notes[0]
    assert main(["validate", "--data", str(src)]) == 0
    assert "validation receipt not written" in capsys.readouterr().err


def test_errors_are_never_cached(tmp_path, capsys):
    src = world(tmp_path, accounts="account_id,name,segment,csm,arr,contracted_modules,signed_at\n"
                                   "A1,Acme,SMB,Jo,-5,3,2025-01-10\nA2,B,SMB,Jo,1,1,2025-01-10\n"
                                   "A3,C,SMB,Jo,1,1,2025-01-10\n")
    for _ in range(2):
        assert main(["health", "--data", str(src)]) == 2
        assert "accounts.arr" in capsys.readouterr().err
        assert not any(p.exists() for p in receipt_paths(src))
    with pytest.raises(BadInput):
        open_data(src)


def test_a_receipt_does_not_hide_a_new_error(tmp_path, capsys):
    src = world(tmp_path)
    open_data(src).close()
    (src / "usage.csv").write_text(USAGE + "A1,2025-02-02,core,3,-1\n")
    for _ in range(2):
        assert main(["health", "--data", str(src)]) == 2
        assert "usage.actions" in capsys.readouterr().err


def test_fresh_files_get_no_receipt_yet(tmp_path, monkeypatch):
    monkeypatch.setattr(workspace, "RECEIPT_SETTLE_SECONDS", 3600.0)
    src = write_world(tmp_path / "w")
    with open_data(src) as ws:
        assert ws.receipt is None
    assert not any(p.exists() for p in receipt_paths(src))


def test_a_duckdb_file_gets_a_receipt_beside_it(tmp_path, monkeypatch):
    src = write_world(tmp_path / "csv")
    db = tmp_path / "world.duckdb"
    con = duckdb.connect(str(db))
    for name in ("accounts", "milestones", "usage", "surveys"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{src / (name + '.csv')}')")
    con.close()
    settled(db)
    with open_data(db) as ws:
        assert ws.receipt == tmp_path / f".world.duckdb{RECEIPT_NAME}"
        expected = state(ws)
    no_checks(monkeypatch)
    with open_data(db) as ws:
        assert not ws.revalidated and state(ws) == expected


def test_sample_rewrites_a_validated_folder_and_its_receipt_is_outdated(tmp_path):
    from workbook.sample import write_sample
    out = tmp_path / "D"
    write_sample(out, accounts=20, seed=1)
    open_data(settled(out)).close()
    assert (out / RECEIPT_NAME).exists()
    write_sample(out, accounts=20, seed=2)            # the receipt is no "other file": no --force needed
    with open_data(out) as ws:
        assert ws.revalidated
