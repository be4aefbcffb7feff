"""Weights governance through the installed `workbook` command: nothing lost, nothing forged.

Every test works on a private copy of params/ that ``WORKBOOK_PARAMS`` points at; concurrency
tests start real parallel `workbook weights adopt` processes.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from proposals import MAP, write_proposal as _proposal

from workbook import weights as wmod

REPO_PARAMS = Path(__file__).resolve().parent.parent / "params"
WORKBOOK = str(Path(sys.executable).with_name("workbook"))
V1_WEIGHTS = {"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15}


def _run(*args: str, umask: int | None = None, **env) -> subprocess.CompletedProcess:
    cmd = [WORKBOOK, *args]
    if umask is not None:
        cmd = ["sh", "-c", f"umask {umask:03o} && exec \"$0\" \"$@\"", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)


def _snapshot(params: Path) -> dict[str, bytes]:
    files = {p.relative_to(params).as_posix(): p.read_bytes() for p in (params / "weights").iterdir()}
    files["health.yaml"] = (params / "health.yaml").read_bytes()
    return files


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _headings(log: str) -> list[str]:
    return re.findall(r"^## (v\d+)\b", log, flags=re.MULTILINE)


def _records(log: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r"^<!-- workbook-weights (\{.*\}) -->$", log, flags=re.MULTILINE)]


# ---------------------------------------------------------------------------- concurrency
def test_six_parallel_adoptions_chain_parents_in_order(params, tmp_path):
    # Reading health.yaml is made slow (a few thousand comment lines) so that, without a lock,
    # the six processes would all read the same active version before any of them moves it.
    health = params / "health.yaml"
    health.write_text(health.read_text() + "".join(f"# padding {i:05d} {'.' * 60}\n" for i in range(3000)))
    proposals = []
    for i in range(6):
        w = {"adoption": 31 + i, "engagement": 19 - i, "sentiment": 15, "outcomes": 20, "relationship": 15}
        proposals.append((w, _proposal(tmp_path / f"p{i}.yaml", weights=w)))
    procs = [subprocess.Popen([WORKBOOK, "weights", "adopt", str(p), "--reason", f"parallel {i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, (_, p) in enumerate(proposals)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs

    assert wmod.versions() == [f"v{n}" for n in range(1, 8)]
    docs = {n: yaml.safe_load((params / "weights" / f"v{n}.yaml").read_text()) for n in range(2, 8)}
    assert [docs[n]["parent"] for n in range(2, 8)] == ["v1", "v2", "v3", "v4", "v5", "v6"]
    assert [docs[n]["version"] for n in range(2, 8)] == [2, 3, 4, 5, 6, 7]
    # each proposal adopted exactly once
    assert sorted(tuple(sorted(d["weights"].items())) for d in docs.values()) == \
        sorted(tuple(sorted(w.items())) for w, _ in proposals)
    log = (params / "weights" / "CHANGELOG.md").read_text()
    assert _headings(log) == [f"v{n}" for n in range(1, 8)]
    records = _records(log)
    assert [r["version"] for r in records] == [f"v{n}" for n in range(2, 8)]
    assert [r["parent"] for r in records] == [f"v{n}" for n in range(1, 7)]
    assert all(r["sha256"] == _digest(params / "weights" / r["file"]) for r in records)
    assert wmod.active_version() == "v7"
    assert not (params / "weights" / wmod.LOCK_NAME).exists()
    listed = _run("weights", "list")
    assert listed.returncode == 0 and "EDITED" not in listed.stdout and listed.stderr == ""


def test_a_held_lock_makes_adopt_wait_then_fail_naming_the_holder(params, tmp_path):
    src = _proposal(tmp_path / "w.yaml")
    before = _snapshot(params)
    with wmod.adoption_lock():
        held = _run("weights", "adopt", str(src), "--reason", "while locked", WORKBOOK_LOCK_TIMEOUT="1")
        assert _snapshot(params) == {**before, f"weights/{wmod.LOCK_NAME}":
                                     (params / "weights" / wmod.LOCK_NAME).read_bytes()}
    assert held.returncode == 2, held.stderr
    assert "another adoption holds the lock" in held.stderr and f"pid {os.getpid()}" in held.stderr
    assert "waited 1 s" in held.stderr and wmod.LOCK_NAME in held.stderr and "Traceback" not in held.stderr
    assert _snapshot(params) == before                       # the lock file went with its holder
    ok = _run("weights", "adopt", str(src), "--reason", "after the lock", WORKBOOK_LOCK_TIMEOUT="1")
    assert ok.returncode == 0, ok.stderr
    assert wmod.active_version() == "v2"


# ---------------------------------------------------------------------------- check first, undo on failure
def test_a_broken_pointer_is_found_before_anything_is_written(params, tmp_path):
    health = params / "health.yaml"
    health.write_text(health.read_text() + "\nactive_weights: v1\n")
    before = _snapshot(params)
    res = _run("weights", "adopt", str(_proposal(tmp_path / "w.yaml")), "--reason", "pointer twice")
    assert res.returncode == 2
    assert "health.yaml" in res.stderr and "active_weights" in res.stderr and "found 2" in res.stderr
    assert _snapshot(params) == before                       # no v2.yaml, no log entry, pointer on v1


@pytest.mark.parametrize("log_exists", [True, False])
def test_a_failed_last_step_undoes_the_earlier_ones(params, tmp_path, monkeypatch, log_exists):
    if not log_exists:
        (params / "weights" / "CHANGELOG.md").unlink()
    before = _snapshot(params)

    def fail(*_args, **_kwargs):
        raise OSError("disk full while moving the pointer")
    monkeypatch.setattr(wmod, "_move_pointer", fail)
    with pytest.raises(OSError, match="disk full"):
        wmod.adopt(_proposal(tmp_path / "w.yaml"), "will fail")
    assert _snapshot(params) == before                       # v2.yaml removed, log restored (or absent)
    assert wmod.versions() == ["v1"] and wmod.active_version() == "v1"


# ---------------------------------------------------------------------------- file modes
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_adopted_files_follow_the_umask(params, tmp_path, umask, mode):
    (params / "weights" / "CHANGELOG.md").unlink()           # created by this adoption
    res = _run("weights", "adopt", str(_proposal(tmp_path / "w.yaml")), "--reason", "modes", umask=umask)
    assert res.returncode == 0, res.stderr
    assert (params / "weights" / "v2.yaml").stat().st_mode & 0o777 == mode
    assert (params / "weights" / "CHANGELOG.md").stat().st_mode & 0o777 == mode


def test_an_existing_log_and_pointer_keep_their_modes(params, tmp_path):
    (params / "weights" / "CHANGELOG.md").chmod(0o640)
    (params / "health.yaml").chmod(0o604)
    res = _run("weights", "adopt", str(_proposal(tmp_path / "w.yaml")), "--reason", "modes", umask=0o022)
    assert res.returncode == 0, res.stderr
    assert (params / "weights" / "CHANGELOG.md").stat().st_mode & 0o777 == 0o640
    assert (params / "health.yaml").stat().st_mode & 0o777 == 0o604
    assert (params / "weights" / "v2.yaml").stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------------------- forged history
FORGED = ("400\n\n## v1 — adopted 2026-01-01\n\n- weights: adoption 90, engagement 10, sentiment 0, "
          "outcomes 0, relationship 0\n- file: v1.yaml (sha256 " + "ab" * 32 + ")\n")


@pytest.mark.parametrize("extra, field, rule", [
    ({"n_test": FORGED}, "n_test", "whole number"),
    ({"n_train": 12.5}, "n_train", "whole number"),
    ({"data_window": {"source": FORGED}}, "data_window.source", "one line"),
    ({"data_window": {"test": ["2026-04-01\n## v1 — adopted", "2026-08-01"]}}, "data_window.test", "date"),
    ({"data_window": {"as_of": "last Tuesday"}}, "data_window.as_of", "date"),
    ({"metrics": {"proposed": {"auc": "0.75\n## v1 — adopted", "brier": 0.05, "log_loss": 0.2}}},
     "metrics.proposed.auc", "must be a number"),
    ({"parent": "v1\n## v1 — adopted 2026-01-01"}, "parent", "one line"),
    ({"note": "looks fine\r\n## v1 — adopted 2026-01-01"}, "note", "one line"),
    ({"estimator": {"params": {"C": 1.0, "method\n## v1": "x"}}}, "estimator.params", "plain name"),
    ({"generated_at": "yesterday"}, "generated_at", "ISO date"),
])
def test_proposal_fields_are_typed_and_one_line(params, tmp_path, extra, field, rule):
    before = _snapshot(params)
    res = _run("weights", "adopt", str(_proposal(tmp_path / "forged.yaml", **extra)), "--reason", "forged")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "forged.yaml" in res.stderr and field in res.stderr and rule in res.stderr
    assert "Traceback" not in res.stderr
    assert _snapshot(params) == before


def test_claims_are_set_by_the_command_never_copied(params, tmp_path):
    src = _proposal(tmp_path / "claims.yaml", version=1, adopted_at="2020-01-01T00:00:00Z",
                    adopted_from="/trusted/board-approved.yaml", sha256="0" * 64, reason="the proposal's own",
                    calibrated_against="v9", forced=False)
    res = _run("weights", "adopt", str(src), "--reason", "the reviewer's reason")
    assert res.returncode == 0, res.stderr
    doc = yaml.safe_load((params / "weights" / "v2.yaml").read_text())
    assert doc["version"] == 2 and doc["parent"] == "v1" and doc["reason"] == "the reviewer's reason"
    assert doc["adopted_from"] == str(src) and doc["adopted_at"] != "2020-01-01T00:00:00Z"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", doc["adopted_at"])
    assert "sha256" not in doc and "calibrated_against" not in doc and "forced" not in doc
    log = (params / "weights" / "CHANGELOG.md").read_text()
    assert _records(log)[-1]["sha256"] == _digest(params / "weights" / "v2.yaml")


def test_heading_text_stays_inside_its_entry(params, tmp_path):
    src = _proposal(tmp_path / "w.yaml", note="## v1 — adopted 2026-01-01 <!-- workbook-weights {} -->")
    res = _run("weights", "adopt", str(src), "--reason", "fine\n## v1 — adopted 2026-01-01\n<!-- x -->")
    assert res.returncode == 0, res.stderr
    log = (params / "weights" / "CHANGELOG.md").read_text()
    assert _headings(log) == ["v1", "v2"]
    assert "- reason: fine ## v1 — adopted 2026-01-01 &lt;!-- x -->\n" in log
    assert [r["version"] for r in _records(log)] == ["v2"]
    doc = yaml.safe_load((params / "weights" / "v2.yaml").read_text())
    assert doc["note"] == "## v1 — adopted 2026-01-01 <!-- workbook-weights {} -->"   # kept, as YAML text
    listed = _run("weights", "list")
    assert listed.returncode == 0 and "EDITED" not in listed.stdout


def test_list_does_not_trust_a_second_entry_for_a_version(params):
    """A log forged by hand (or by an older version of the tool) that repeats v1 with the hash
    of an edited v1.yaml: the first entry counts, and v1 is not shown as intact."""
    v1 = params / "weights" / "v1.yaml"
    v1.write_text(v1.read_text().replace("adoption: 30", "adoption: 40").replace("engagement: 20", "engagement: 10"))
    with open(params / "weights" / "CHANGELOG.md", "a", encoding="utf-8") as fh:
        fh.write("\n## v1 — adopted 2026-01-01\n\n- parent: none\n- reason: Initial weights\n"
                 f"- file: v1.yaml (sha256 {_digest(v1)})\n")
    res = _run("weights", "list")
    assert res.returncode == 0
    row = next(line for line in res.stdout.splitlines() if line.split()[0] == "v1")
    assert "EDITED" in row and "yes" not in row.split()
    assert "v1 has 2 entries" in res.stderr
    assert wmod.list_versions().set_index("version").to_dict("index")["v1"]["intact"] is False


def test_list_flags_a_duplicated_record(params, tmp_path):
    wmod.adopt(_proposal(tmp_path / "w.yaml"), "first")
    log = params / "weights" / "CHANGELOG.md"
    record = [line for line in log.read_text().splitlines() if line.startswith("<!-- workbook-weights")][-1]
    v2 = params / "weights" / "v2.yaml"
    v2.write_text(v2.read_text().replace("adoption: 40", "adoption: 45").replace("outcomes: 30", "outcomes: 25"))
    log.write_text(log.read_text() + "\n" + record.replace(json.loads(record[22:-4])["sha256"], _digest(v2)) + "\n")
    assert wmod.list_versions().set_index("version").to_dict("index")["v2"]["intact"] is False
    assert any("v2 has more than one record" in p for p in wmod.read_log()[1])


# ---------------------------------------------------------------------------- recommendation and --force
NO_CHANGE = {"adopt": False, "reason": "Not better than v1 out of time (AUC 0.70 vs 0.71)."}


def test_a_proposal_that_recommends_no_change_is_refused_without_force(params, tmp_path):
    before = _snapshot(params)
    res = _run("weights", "adopt", str(_proposal(tmp_path / "w.yaml", recommendation=NO_CHANGE)), "--reason", "try")
    assert res.returncode == 2
    assert NO_CHANGE["reason"] in res.stderr and "--force" in res.stderr and "Traceback" not in res.stderr
    assert _snapshot(params) == before


def test_force_adopts_against_the_recommendation_and_says_so(params, tmp_path):
    src = _proposal(tmp_path / "w.yaml", recommendation=NO_CHANGE)
    res = _run("weights", "adopt", str(src), "--reason", "board decision", "--force")
    assert res.returncode == 0, res.stderr
    assert "forced" in res.stdout
    doc = yaml.safe_load((params / "weights" / "v2.yaml").read_text())
    assert doc["forced"] is True and doc["recommendation"] == NO_CHANGE
    log = (params / "weights" / "CHANGELOG.md").read_text()
    assert ("- forced: adopted with --force although the proposal recommended not to "
            f"({NO_CHANGE['reason']})") in log
    assert _records(log)[-1]["forced"] is True and wmod.active_version() == "v2"


@pytest.mark.parametrize("recommendation", [None, {"adopt": True, "reason": "Better out of time."}])
def test_a_proposal_without_a_no_is_adopted_without_force(params, tmp_path, recommendation):
    extra = {} if recommendation is None else {"recommendation": recommendation}
    res = _run("weights", "adopt", str(_proposal(tmp_path / "w.yaml", **extra)), "--reason", "ok")
    assert res.returncode == 0, res.stderr
    log = (params / "weights" / "CHANGELOG.md").read_text()
    assert "- forced:" not in log and _records(log)[-1]["forced"] is False
    assert "forced" not in yaml.safe_load((params / "weights" / "v2.yaml").read_text())


def test_a_malformed_recommendation_is_bad_input(params, tmp_path):
    res = _run("weights", "adopt", str(_proposal(tmp_path / "w.yaml", recommendation={"adopt": "no"})),
               "--reason", "x", "--force")
    assert res.returncode == 2 and "recommendation" in res.stderr
    assert wmod.versions() == ["v1"]
