"""``workbook report`` as a scheduler runs it: the installed executable, bad parameters, bad folders.

Parameters passed with ``-p`` are checked where they are used (in the notebook), so the messages
must name the ``-p`` argument, not the defaults file; an output folder that cannot be written is
refused before any data is read or any kernel started.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKBOOK = Path(sys.executable).with_name("workbook")


def workbook(*argv, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(WORKBOOK), *map(str, argv)], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.mark.parametrize("out", ["a-file/reports", "a-file"])
def test_unwritable_out_is_bad_input_before_any_work(tmp_path, sample_dir, out):
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    target = tmp_path / out
    run = workbook("report", "weekly", "--data", sample_dir, "--out", target)
    assert run.returncode == 2, run.stderr
    assert "--out" in run.stderr and str(tmp_path / "a-file") in run.stderr and "is a file" in run.stderr
    assert "Traceback" not in run.stderr and "validating" not in run.stderr and "starting kernel" not in run.stderr


def test_check_writable_refuses_a_read_only_folder_for_ordinary_users(tmp_path, monkeypatch):
    from workbook import report
    from workbook.errors import BadInput
    monkeypatch.setattr(os, "access", lambda path, mode: False)      # what a non-root user gets on 0555
    with pytest.raises(BadInput, match="is not writable"):
        report.check_writable(tmp_path / "new" / "reports")
    assert not (tmp_path / "new").exists()                           # nothing created


@pytest.mark.slow
def test_non_finite_parameter_names_the_p_argument(tmp_path, sample_dir):
    run = workbook("report", "weekly", "--data", sample_dir, "--out", tmp_path, "-p", "max_risks=.inf")
    assert run.returncode == 2, run.stderr
    assert "-p max_risks: must be a whole number >= 1, got inf" in run.stderr
    assert "params/weekly.yaml" not in run.stderr and "Traceback" not in run.stderr


@pytest.mark.slow
def test_unknown_template_field_in_a_p_text_names_field_and_argument(tmp_path, sample_dir):
    run = workbook("report", "monthly", "--data", sample_dir, "--out", tmp_path,
                   "-p", 'recommendations={default: "Fix {bogus} now"}')
    assert run.returncode == 2, run.stderr
    assert "-p recommendations.default: uses the unknown field {bogus}" in run.stderr
    assert "Traceback" not in run.stderr


def test_template_check_accepts_known_fields_and_refuses_broken_braces():
    from workbook import narrative
    from workbook.errors import BadInput
    narrative.check_template("{kpi} is {value} against {target}; {red} red ({red_arr})",
                             narrative.RECOMMENDATION_FIELDS, "params/monthly.yaml", "recommendations.x")
    narrative.check_template("literal {{braces}}", narrative.RECOMMENDATION_FIELDS, "f", "k")
    for bad in ("{", "}", "{0}", "{}", "{kpi.__class__}", "{value[0]}"):
        with pytest.raises(BadInput):
            narrative.check_template(bad, narrative.RECOMMENDATION_FIELDS, "params/monthly.yaml", "recommendations.x")
