"""Tiny hand-made sources with a ``contracts`` table, for the renewal and expansion tests.

Every number a test checks is worked out in that test's comments from the rows written here.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

AS_OF = pd.Timestamp("2026-03-31")


def write_world(folder: Path, accounts: list[dict], contracts: list[dict] | None, usage: list[dict]) -> Path:
    """Write accounts, milestones (a kickoff per account), usage and, unless None, contracts."""
    folder.mkdir(parents=True, exist_ok=True)
    acc = pd.DataFrame(accounts)
    for col, default in (("segment", "SMB"), ("csm", "Ana"), ("contracted_modules", 2), ("signed_at", "2024-01-01"),
                         ("churned_at", "")):
        if col not in acc:
            acc[col] = default
        acc[col] = acc[col].fillna(default)
    acc["name"] = acc.get("name", acc["account_id"] + " Ltd")
    acc[["account_id", "name", "segment", "csm", "arr", "contracted_modules", "signed_at", "churned_at"]].to_csv(
        folder / "accounts.csv", index=False)
    pd.DataFrame({"account_id": acc["account_id"], "milestone": "kickoff", "reached_at": acc["signed_at"]}).to_csv(
        folder / "milestones.csv", index=False)
    pd.DataFrame(usage, columns=["account_id", "date", "module", "active_users", "actions"]).to_csv(
        folder / "usage.csv", index=False)
    if contracts is not None:
        c = pd.DataFrame(contracts)
        for col, default in (("licensed_users", ""), ("modules", "core;reporting"), ("kind", "new")):
            if col not in c:
                c[col] = default
            c[col] = c[col].fillna(default)
        c[["account_id", "contract_id", "starts_at", "ends_at", "arr", "licensed_users", "modules", "kind"]].to_csv(
            folder / "contracts.csv", index=False)
    return folder


def daily(account_id: str, start: str, days: int, *, module: str = "core", users: int = 3, actions: int = 10) -> list[dict]:
    """One usage row a day for ``days`` days from ``start``."""
    return [{"account_id": account_id, "date": f"{pd.Timestamp(start) + pd.Timedelta(days=i):%Y-%m-%d}",
             "module": module, "active_users": users, "actions": actions} for i in range(days)]
