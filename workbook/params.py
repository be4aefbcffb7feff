"""Finding, reading and checking the YAML files under ``params/``: the one place settings are read.

The directory is, in order: the ``WORKBOOK_PARAMS`` environment variable; ``./params`` when the
current directory has one (a clone of the repository); the ``params/`` beside the installed
package (an editable install of the repository).
"""
from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import yaml

from .errors import BadInput


def params_dir() -> Path:
    """The params directory in use (see the module docstring for the search order)."""
    env = os.environ.get("WORKBOOK_PARAMS")
    if env:
        return Path(env)
    here = Path.cwd() / "params"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "params"


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read one YAML mapping; a missing or malformed file is :class:`BadInput`."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(str(path), None, "parameters file does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInput(str(path), None, f"is not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(str(path), None, "must hold a YAML mapping (key: value lines)")
    return data


def load(name: str, *, required: bool = True) -> dict[str, Any]:
    """``params/<name>.yaml`` as a dict (empty when optional and absent)."""
    path = params_dir() / f"{name}.yaml"
    if not path.is_file() and not required:
        return {}
    return read_yaml(path)


def section(name: str, key: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``key:`` mapping of ``params/<name>.yaml`` laid over ``defaults``.

    An absent file, an absent key or an empty one give ``defaults`` (``{}`` when None); a key
    holding anything but a mapping is :class:`BadInput` naming the file and the key.
    """
    value = load(name, required=False).get(key)
    if value in (None, "", {}):
        value = {}
    if not isinstance(value, dict):
        raise BadInput(f"params/{name}.yaml", key, "must be a mapping (key: value lines)")
    return {**(defaults or {}), **value}
