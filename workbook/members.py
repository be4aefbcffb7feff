"""Who a one-member report is about: an account (the account brief) or a CSM (the CSM's book).

``workbook report account -p account_id=…`` and ``workbook report book -p csm=…`` name their member;
:func:`check` refuses an unknown one before any kernel starts (``workbook.report.prepare``), with
the close matches (:func:`difflib.get_close_matches` on ids and names; CSM names compared without
regard to case), so nothing is written. The report objects call :func:`find_account` /
:func:`find_csm` again, so a notebook run by plain papermill refuses the same way.

When the parameter is None (a notebook opened with its defaults), :func:`default_account` picks
the red account with the largest ARR (else the lowest score) and :func:`default_csm` the CSM with
the most live accounts (ties: the larger ARR, then the name); the report says so in its header.
"""
from __future__ import annotations

import difflib
import re

import pandas as pd

from .errors import BadInput

#: The member parameter of each one-member report.
MEMBER_PARAMETER = {"account": "account_id", "book": "csm"}


def _digits(text: str) -> int | None:
    found = re.sub(r"\D", "", text)
    return int(found) if found else None


def _suggest(word: str, candidates: dict[str, str], n: int = 3) -> list[str]:
    """Up to ``n`` display texts whose key is close to ``word`` (``candidates``: key → text), the
    closest first; equally close ids by the nearest number (``A0001`` → ``A00001`` first)."""
    hits = difflib.get_close_matches(word, list(candidates), n=max(len(candidates), 1), cutoff=0.6)
    number = _digits(word)

    def key(hit: str):
        ratio = round(difflib.SequenceMatcher(None, word, hit).ratio(), 6)
        other = _digits(hit)
        return -ratio, abs(other - number) if number is not None and other is not None else 0
    return list(dict.fromkeys(candidates[h] for h in sorted(hits, key=key)))[:n]


def _refuse(key: str, what: str, given, suggestions: list[str]) -> BadInput:
    hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
    return BadInput("-p", key, f"no {what} {given!r} in the data{hint}", examples=suggestions)


def find_account(ws, account_id) -> str:
    """``account_id`` (as text) when the accounts table holds it, else BadInput (``-p account_id``)
    naming it and suggesting accounts whose id or name is close (``A00123 (Acme Ltd)``)."""
    acc = ws.frame("accounts")
    given = str(account_id).strip()
    if given in set(acc["account_id"].astype(str)):
        return given
    label = {str(i): f"{i} ({n})" for i, n in zip(acc["account_id"], acc["name"])}
    by_name = {str(n).lower(): label[str(i)] for i, n in zip(acc["account_id"], acc["name"])}
    suggestions = _suggest(given, label) + _suggest(given.lower(), by_name)
    raise _refuse("account_id", "account", given, list(dict.fromkeys(suggestions))[:3])


def find_csm(ws, csm) -> str:
    """The CSM's name as the accounts table spells it (matched without regard to case or
    surrounding spaces), else BadInput (``-p csm``) naming it and suggesting close names."""
    names = sorted({str(c) for c in ws.frame("accounts")["csm"].dropna()})
    given = str(csm).strip()
    folded = {n.strip().lower(): n for n in names}
    if given.lower() in folded:
        return folded[given.lower()]
    hits = _suggest(given.lower(), folded) or [n for n in names if set(n.lower().split()) & set(given.lower().split())]
    raise _refuse("csm", "CSM", given, hits[:3])


def check(name: str, ws, parameters: dict) -> None:
    """Refuse an unknown member of report ``name`` (BadInput, exit 2); other reports pass."""
    key = MEMBER_PARAMETER.get(name)
    value = (parameters or {}).get(key) if key else None
    if value is None:
        return
    if key == "csm":
        find_csm(ws, value)
        return
    account_id = find_account(ws, value)
    as_of = pd.Timestamp(parameters["as_of"]).normalize() if parameters.get("as_of") else ws.default_as_of()
    text = not_live_text(ws, account_id, as_of)
    if text is not None:
        raise BadInput("-p", "account_id", text)


def not_live_text(ws, account_id: str, as_of) -> str | None:
    """Why ``account_id`` has no score on ``as_of`` (signed later, or churned by then); None when
    it is live (signed on or before ``as_of`` and not churned on or before it)."""
    acc = ws.frame("accounts")
    row = acc[acc["account_id"].astype(str) == str(account_id)].iloc[0]
    as_of = pd.Timestamp(as_of).normalize()
    if row["signed_at"] > as_of:
        return (f"account {account_id} ({row['name']}) was signed on {row['signed_at']:%Y-%m-%d}, after as_of "
                f"{as_of:%Y-%m-%d}: it has no score yet")
    if not pd.isna(row["churned_at"]) and row["churned_at"] <= as_of:
        return (f"account {account_id} ({row['name']}) churned on {row['churned_at']:%Y-%m-%d}, on or before "
                f"as_of {as_of:%Y-%m-%d}: it has no score then (pass an earlier --as-of)")
    return None


def default_account(health: pd.DataFrame) -> str | None:
    """The account a brief opened without ``account_id`` shows: the red account with the largest
    ARR, else the lowest-scored account (None when nothing is live)."""
    if health.empty:
        return None
    red = health[(health["colour"] == "red").fillna(False).to_numpy(dtype=bool)]
    if len(red):
        return str(red.sort_values(["arr", "account_id"], ascending=[False, True]).iloc[0]["account_id"])
    return str(health.sort_values(["score", "account_id"]).iloc[0]["account_id"])


def default_csm(health: pd.DataFrame) -> str | None:
    """The CSM a book opened without ``csm`` shows: the most live accounts, then the larger ARR,
    then the name (None when nothing is live)."""
    h = health[health["csm"].notna().to_numpy(dtype=bool)]
    if h.empty:
        return None
    per = h.groupby(h["csm"].astype(str)).agg(n=("account_id", "size"), arr=("arr", "sum")).reset_index()
    return str(per.sort_values(["n", "arr", "csm"], ascending=[False, False, True]).iloc[0]["csm"])


__all__ = ["MEMBER_PARAMETER", "check", "default_account", "default_csm", "find_account", "find_csm", "not_live_text"]
