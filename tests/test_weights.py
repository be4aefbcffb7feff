"""Versioned weights: validation, listing and the adoption flow (always on a tmp copy of params/)."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from proposals import MAP, write_proposal as _proposal

from workbook import weights as wmod
from workbook.cli import main
from workbook.errors import BadInput

REPO_PARAMS = Path(__file__).resolve().parent.parent / "params"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_list_shows_v1_active_and_intact(params, capsys):
    row = wmod.list_versions().set_index("version").to_dict("index")["v1"]
    assert row["active"] is True and row["intact"] is True and row["weights"] == "30/20/15/20/15"
    assert row["thresholds"] == "80/60" and row["parent"] is None
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "v1" in out and "*" in out and "30/20/15/20/15" in out


def test_adopt_writes_next_version_changelog_and_pointer(params, tmp_path, capsys):
    v1_before = _digest(params / "weights" / "v1.yaml")
    health_before = (params / "health.yaml").read_text()
    log_before = (params / "weights" / "CHANGELOG.md").read_text()
    src = _proposal(tmp_path / "weights.yaml")
    assert main(["weights", "adopt", str(src), "--reason", "Fits churn better out of time (AUC .70 -> .75)"]) == 0
    assert "adopted v2" in capsys.readouterr().out

    v2 = params / "weights" / "v2.yaml"
    doc = yaml.safe_load(v2.read_text())
    assert doc["version"] == 2 and doc["parent"] == "v1" and doc["reason"].startswith("Fits churn better")
    assert doc["weights"] == {"adoption": 40, "engagement": 10, "sentiment": 5, "outcomes": 30, "relationship": 15}
    assert doc["calibration"]["churn_probability"] == MAP and doc["data_window"]["test"][0] == "2026-04-01"
    assert "status" not in doc and doc["adopted_at"].endswith("Z")
    # the old version is untouched byte for byte
    assert _digest(params / "weights" / "v1.yaml") == v1_before
    # only the pointer line of health.yaml changed
    after = (params / "health.yaml").read_text()
    changed = [(a, b) for a, b in zip(health_before.splitlines(), after.splitlines()) if a != b]
    assert changed == [("active_weights: v1", "active_weights: v2")]
    assert len(after.splitlines()) == len(health_before.splitlines())
    assert wmod.active_version() == "v2" and wmod.load_active().weights["adoption"] == 40
    # one changelog entry appended, with the new file's hash
    log = (params / "weights" / "CHANGELOG.md").read_text()
    assert log.startswith(log_before)
    added = log[len(log_before):]
    assert "## v2" in added and "parent: v1" in added and "Fits churn better" in added
    assert f"sha256 {_digest(v2)}" in added and "adoption +10" in added and "auc 0.7 -> 0.75" in added
    table = wmod.list_versions().set_index("version").to_dict("index")
    assert table["v2"]["active"] is True and table["v1"]["active"] is False and table["v2"]["intact"] is True


def test_second_adoption_chains_parents(params, tmp_path):
    wmod.adopt(_proposal(tmp_path / "a.yaml"), "first", adopted_at="2026-11-20T09:00:00Z")
    w3 = wmod.adopt(_proposal(tmp_path / "b.yaml", weights={"adoption": 50, "engagement": 0, "sentiment": 10,
                                                             "outcomes": 30, "relationship": 10}), "second")
    assert w3.version == "v3" and w3.meta["parent"] == "v2" and wmod.active_version() == "v3"
    # the proposal was calibrated against v1, adopted on top of v2: both are recorded
    assert w3.meta["calibrated_against"] == "v1"
    assert yaml.safe_load((params / "weights" / "v2.yaml").read_text())["adopted_at"] == "2026-11-20T09:00:00Z"
    assert wmod.versions() == ["v1", "v2", "v3"]


@pytest.mark.parametrize("bad, message", [
    ({"weights": {"adoption": 40, "engagement": 10, "sentiment": 5, "outcomes": 30, "relationship": 14}},
     "must sum to 100"),
    ({"weights": {"adoption": 45, "engagement": -5, "sentiment": 5, "outcomes": 40, "relationship": 15}}, ">= 0"),
    ({"thresholds": {"green": 50, "amber": 60}}, "amber < green"),
    ({"calibration": {"horizon_days": 90, "churn_probability": MAP[::-1]}}, "must not rise with the score"),
    ({"calibration": {"horizon_days": 90, "churn_probability": MAP[:100]}}, "101 probabilities"),
])
def test_invalid_file_is_refused_with_exit_2_and_nothing_changes(params, tmp_path, capsys, bad, message):
    before = {p.name: p.read_bytes() for p in (params / "weights").iterdir()}
    health = (params / "health.yaml").read_bytes()
    src = _proposal(tmp_path / "bad.yaml", **{k: v for k, v in bad.items() if k != "weights"})
    if "weights" in bad:
        doc = yaml.safe_load(src.read_text())
        doc["weights"] = bad["weights"]
        src.write_text(yaml.safe_dump(doc))
    assert main(["weights", "adopt", str(src), "--reason", "try"]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad.yaml" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in (params / "weights").iterdir()} == before
    assert (params / "health.yaml").read_bytes() == health


def test_adopt_needs_a_reason_and_an_existing_file(params, tmp_path, capsys):
    src = _proposal(tmp_path / "w.yaml")
    assert main(["weights", "adopt", str(src), "--reason", "   "]) == 2
    assert "--reason" in capsys.readouterr().err
    assert main(["weights", "adopt", str(tmp_path / "missing.yaml"), "--reason", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["weights", "adopt", str(src)]) == 2                # argparse: --reason is required
    assert wmod.versions() == ["v1"]


def test_an_adopted_version_is_never_overwritten(params):
    v1 = params / "weights" / "v1.yaml"
    before = v1.read_bytes()
    with pytest.raises(BadInput, match="never overwritten"):
        wmod._write_new(v1, "weights: {}\n")
    assert v1.read_bytes() == before
    assert not [p for p in (params / "weights").iterdir() if p.name.startswith(".")]   # no temp files left


def test_list_flags_a_version_edited_after_adoption(params, capsys):
    v1 = params / "weights" / "v1.yaml"
    v1.write_text(v1.read_text().replace("reason: \"Initial", "reason: \"Edited"))
    assert wmod.list_versions().set_index("version").to_dict("index")["v1"]["intact"] is False
    assert main(["weights", "list"]) == 0
    assert "EDITED" in capsys.readouterr().out


def test_changelog_is_created_when_missing(params, tmp_path):
    (params / "weights" / "CHANGELOG.md").unlink()
    wmod.adopt(_proposal(tmp_path / "w.yaml"), "first calibrated version")
    log = (params / "weights" / "CHANGELOG.md").read_text()
    assert log.index("## v1") < log.index("## v2")
    assert f"sha256 {_digest(params / 'weights' / 'v1.yaml')}" in log


def test_pointer_comment_is_kept(params, tmp_path):
    h = params / "health.yaml"
    h.write_text(h.read_text().replace("active_weights: v1", "active_weights: v1   # moved by adopt only"))
    wmod.adopt(_proposal(tmp_path / "w.yaml"), "keep the comment")
    assert "active_weights: v2   # moved by adopt only" in h.read_text()


def test_repo_changelog_records_v1():
    log = (REPO_PARAMS / "weights" / "CHANGELOG.md").read_text()
    assert "## v1" in log and "reason: Initial weights" in log


def test_adopted_at_given_from_python_must_be_an_iso_time(params, tmp_path):
    with pytest.raises(BadInput, match="adopted_at: must be an ISO date or time"):
        wmod.adopt(_proposal(tmp_path / "w.yaml"), "x", adopted_at="2026-01-01\n## v1 — adopted")
    assert wmod.versions() == ["v1"]


def test_adoption_leaves_no_lock_or_temporary_file(params, tmp_path):
    wmod.adopt(_proposal(tmp_path / "w.yaml"), "clean up after yourself")
    assert sorted(p.name for p in (params / "weights").iterdir()) == ["CHANGELOG.md", "v1.yaml", "v2.yaml"]
