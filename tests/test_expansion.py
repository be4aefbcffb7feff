"""Expansion signals (workbook.expansion) on crafted accounts: each fires when it should, and only then."""
from __future__ import annotations

import pandas as pd
import pytest

from contract_world import AS_OF, daily, write_world
from workbook.expansion import expansion_signals
from workbook.workspace import open_data

# as_of 2026-03-31. The window is the 28 days 2026-03-04..03-31; the one before 02-04..03-03.
NOW, BEFORE = "2026-03-04", "2026-02-04"

ACCOUNTS = [{"account_id": a, "arr": 1000} for a in
            ("LIC_HI", "LIC_LO", "MOD_NEW", "MOD_OLD", "GROW", "GROW_EXP", "GROW_AMBER", "FLAT", "GROW_YOUNG")]
ACCOUNTS[-1]["signed_at"] = "2026-01-01"       # 89 days before as_of: too new for "growing"


def _base(a, **kw):
    return {"account_id": a, "contract_id": f"C-{a}", "starts_at": "2025-06-01", "ends_at": "2026-06-01",
            "arr": 1000, "licensed_users": 10, "modules": "core;reporting", **kw}


CONTRACTS = [_base(a) for a, in [(r["account_id"],) for r in ACCOUNTS]] + [
    # an expansion add-on 100 days before as_of: GROW_EXP expanded within 12 months
    {"account_id": "GROW_EXP", "contract_id": "X-1", "starts_at": "2025-12-21", "ends_at": "2026-06-01",
     "arr": 200, "licensed_users": 2, "modules": "core", "kind": "expansion"}]

USAGE = (
    # LIC_HI: 9 active users on a day of the window, 10 licensed: 90 % -> near licence limit
    daily("LIC_HI", NOW, 5, users=9)
    # LIC_LO: at most 5 of 10 -> nothing; 9 users but 40 days ago (before the window) -> nothing
    + daily("LIC_LO", NOW, 5, users=5) + daily("LIC_LO", "2026-02-15", 3, users=9)
    # MOD_NEW: uses analytics (not entitled: core;reporting) inside the window -> unentitled module
    + daily("MOD_NEW", NOW, 3) + daily("MOD_NEW", "2026-03-20", 2, module="analytics", actions=7)
    # MOD_OLD: used analytics only before the window -> nothing
    + daily("MOD_OLD", NOW, 3) + daily("MOD_OLD", "2026-02-10", 2, module="analytics")
    # GROW*: 10 days x 10 actions before (100), 10 days x 15 now (150): +50 %, days and peak equal
    + [r for a in ("GROW", "GROW_EXP", "GROW_AMBER", "GROW_YOUNG")
       for r in daily(a, BEFORE, 10, actions=10) + daily(a, NOW, 10, actions=15)]
    # FLAT: 100 before, 110 now: +10 %, below the 20 % growth -> nothing
    + daily("FLAT", BEFORE, 10, actions=10) + daily("FLAT", NOW, 10, actions=11)
)


def _health():
    colour = {a["account_id"]: "green" for a in ACCOUNTS}
    colour["GROW_AMBER"] = "amber"
    return pd.DataFrame({"account_id": list(colour), "colour": list(colour.values())})


@pytest.fixture(scope="module")
def with_contracts(tmp_path_factory):
    ws = open_data(write_world(tmp_path_factory.mktemp("exp") / "w", ACCOUNTS, CONTRACTS, USAGE))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def without_contracts(tmp_path_factory):
    ws = open_data(write_world(tmp_path_factory.mktemp("exp") / "bare", ACCOUNTS, None, USAGE))
    yield ws
    ws.close()


def _fired(frame) -> set[tuple[str, str]]:
    return set(zip(frame["account_id"], frame["signal"]))


def test_each_signal_fires_when_it_should_and_only_then(with_contracts):
    out = expansion_signals(with_contracts, AS_OF, health=_health())
    assert _fired(out) == {("LIC_HI", "near licence limit"), ("MOD_NEW", "unentitled module"),
                           ("GROW", "green and growing")}
    detail = dict(zip(out["account_id"], out["detail"]))
    assert "peak 9 active users" in detail["LIC_HI"] and "10 licensed (90%)" in detail["LIC_HI"]
    assert "analytics (14 actions)" in detail["MOD_NEW"]             # 2 days x 7 actions
    assert "150 actions" in detail["GROW"] and "up 50%" in detail["GROW"] and "(100)" in detail["GROW"]
    assert list(out.columns) == ["account_id", "name", "csm", "segment", "arr", "signal", "detail"]


def test_licence_threshold_is_a_setting(with_contracts, params):
    (params / "expansion.yaml").write_text("near_licence_share: 0.5\n")
    out = expansion_signals(with_contracts, AS_OF, health=_health())
    near = {a for a, s in _fired(out) if s == "near licence limit"}
    assert near == {"LIC_HI", "LIC_LO"}                              # 5 of 10 is 50 %


def test_without_contracts_only_green_and_growing_can_fire(without_contracts):
    out = expansion_signals(without_contracts, AS_OF, health=_health())
    # no licences, no entitlements, and the expansion contract of GROW_EXP is unknown
    assert _fired(out) == {("GROW", "green and growing"), ("GROW_EXP", "green and growing")}
    assert not out["detail"].str.contains("expansion contract").any()


def test_no_signal_gives_an_empty_frame(with_contracts):
    out = expansion_signals(with_contracts, "2025-10-01", health=_health())
    assert out.empty and list(out.columns)[-2:] == ["signal", "detail"]
