"""The project's own promises about packaging: pyproject and environment.yml never drift."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_runtime_dependency_is_in_environment_yml():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            listed.add(_name(dep.split("=")[0] if "=" in dep and ">" not in dep else dep))
    missing = sorted(runtime - listed)
    assert not missing, f"environment.yml lacks runtime dependencies from pyproject.toml: {missing}"


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert any(line.startswith("-e .") for line in pip)
    assert "python=3.11" in env["dependencies"]


def test_nbconvert_lower_bound_has_the_security_fixes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    nbconvert = next(r for r in project["dependencies"] if _name(r) == "nbconvert")
    assert ">=7.17.1" in nbconvert.replace(" ", "")


def test_console_script_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["workbook"] == "workbook.cli:main"


def test_generated_reports_are_ignored_by_git():
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "reports/*" in ignore and "!reports/README.md" in ignore
