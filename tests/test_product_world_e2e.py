"""A new user's whole path on a source with only the three required tables, through the installed
``workbook`` executable: calibrate, health with the proposal, adopt it, and every report.

Two product worlds (tests/product_world.py): one whose usage ranks churn, one where churn is
drawn independently of everything (no signal). All seven reports render (the account brief and
the book for their default member). Each command must exit 0 (the adoption of a
proposal that recommends no change needs ``--force``) and no rendered page may print a value the
data does not hold (nan, None, -0.0) or the sample world's own texts.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from product_world import write_product_world

pytestmark = pytest.mark.slow

WORKBOOK = Path(sys.executable).with_name("workbook")
REPO = Path(__file__).resolve().parent.parent
REPORTS = ("weekly", "monthly", "post_cycle", "calibration", "dashboard", "account", "book")
BAD_TEXT = re.compile(r"\bnan\b|\bNaN\b|\bNone\b|<NA>|\bNaT\b|-0\.0\b|-0 ?%")
SAMPLE_TEXTS = ("Sales: put the customer's named onboarding owner", "day 25", "SMB", "Mid-Market", "Enterprise")


def visible_text(page: str) -> str:
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r'\balt="([^"]*)"', r"> \1 <", body)         # alt text is read too
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture(scope="module", params=["strong", "none"])
def journey(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"journey-{request.param}")
    data = write_product_world(root / "data", accounts=300, seed=5, churn_signal=request.param)
    params = root / "params"
    shutil.copytree(REPO / "params", params)
    env = dict(os.environ, WORKBOOK_PARAMS=str(params))

    def run(*argv):
        return subprocess.run([str(WORKBOOK), *map(str, argv)], capture_output=True, text=True, env=env,
                              timeout=900)

    steps = {"calibrate": run("calibrate", "--data", data, "--out", root / "proposal")}
    proposal = root / "proposal" / "weights.yaml"
    steps["health"] = run("health", "--data", data, "--weights", proposal, "--format", "csv")
    steps["adopt"] = run("weights", "adopt", proposal, "--reason", "first calibration on our own data")
    if steps["adopt"].returncode == 2 and "--force" in steps["adopt"].stderr:
        steps["adopt_forced"] = run("weights", "adopt", proposal, "--reason", "first calibration", "--force")
    procs = {name: subprocess.Popen([str(WORKBOOK), "report", name, "--data", str(data), "--out", str(root / "out")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for name in REPORTS}
    pages = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        steps[f"report {name}"] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        if proc.returncode == 0:
            pages[name] = Path(stdout.strip().splitlines()[-1]).read_text(encoding="utf-8")
    return request.param, steps, pages, yaml.safe_load(proposal.read_text(encoding="utf-8"))


def test_every_step_exits_0(journey):
    _, steps, _, _ = journey
    failed = {k: (r.returncode, r.stderr[-1500:]) for k, r in steps.items()
              if r.returncode != 0 and not (k == "adopt" and "adopt_forced" in steps)}
    assert failed == {}
    assert all("Traceback" not in r.stderr for r in steps.values())


def test_the_proposal_weighs_only_measured_dimensions(journey):
    _, _, _, proposal = journey
    w = proposal["weights"]
    assert w["engagement"] == w["sentiment"] == w["relationship"] == 0
    assert sorted(proposal["not_measured"]) == ["engagement", "relationship", "sentiment"]


def test_no_signal_is_not_recommended(journey):
    kind, steps, _, proposal = journey
    if kind == "none":
        assert proposal["recommendation"]["adopt"] is False
        assert "adopt_forced" in steps and steps["adopt"].returncode == 2


@pytest.mark.parametrize("name", REPORTS)
def test_pages_say_nothing_the_data_does_not_hold(journey, name):
    _, _, pages, _ = journey
    text = visible_text(pages[name])
    assert not BAD_TEXT.search(text), BAD_TEXT.search(text).group(0)
    for sample_text in SAMPLE_TEXTS:
        assert sample_text not in text, sample_text
    if name in ("weekly", "dashboard"):
        assert "engagement, sentiment and relationship" in text or "engagement, sentiment, relationship" in text
    if name == "post_cycle":
        assert "No improvement cycle is defined for this data source" in text
