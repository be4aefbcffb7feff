"""The data contract: every input table, its columns, their types and the rules they obey.

This module is the single place where SPEC section 2 lives as code. :mod:`workbook.workspace`
uses it to read, type and validate a data source inside DuckDB (never in pandas), so that a
usage table of hundreds of millions of rows is checked by the engine.

Each rule is a SQL predicate that is TRUE for a row that *breaks* the rule, evaluated on the
typed view of the table (``t``). Rules that need other tables (foreign keys, dates compared with
the account's signature) are written as joins below.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .scoring import COLOURS

MILESTONES = ("kickoff", "go_live", "activation", "first_value", "onboarding_complete", "handover")
CONTACT_ROLES = ("champion", "decision_maker", "business_owner", "user")
SURVEY_KINDS = ("nps", "onboarding_nps", "csat", "ces")
TOUCH_KINDS = ("meeting", "call", "email", "review", "training")
DIRECTIONS = ("outbound", "inbound")
PRIORITIES = ("low", "normal", "high", "urgent")
ADVOCACY_KINDS = ("reference", "review", "case_study", "referral")
CONTRACT_KINDS = ("new", "renewal", "expansion", "contraction")
# Contracts of this kind are add-ons: they may overlap the account's other contracts (module or
# seat add-ons bought mid-term). Contracts of every other kind (or none) must not overlap each other.
ADD_ON_KIND = "expansion"
MODULE_SEPARATOR = ";"

# Column kinds: str, date, int, float, bool.
SQL_TYPES = {"str": "VARCHAR", "date": "DATE", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}
KIND_WORDS = {"str": "text", "date": "an ISO date (YYYY-MM-DD)", "int": "a whole number",
              "float": "a finite number (not nan or inf)", "bool": "a boolean (true/false, 1/0, yes/no)"}

# Dates must lie in this range (inclusive). It keeps every date, and every window computed from
# it, inside what pandas' nanosecond timestamps hold (1677..2262).
DATE_MIN, DATE_MAX = "1900-01-01", "2199-12-31"
# In an open-ended column (Column.open_ended: the end of something that may not have ended), a
# date on or after this one is a "no end yet" placeholder such as 9999-12-31: it is read as empty
# and counted as a warning.
OPEN_END_FROM = "9000-01-01"
# Whole numbers are 64-bit signed integers.
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    open_ended: bool = False   # an end date where far-future placeholders mean "not ended"


@dataclass(frozen=True)
class Rule:
    """A row-level rule. ``broken`` is a SQL predicate over the typed table aliased ``t``."""

    column: str | None
    text: str
    broken: str
    severity: str = "error"

    @property
    def reads(self) -> frozenset[str]:
        """The columns ``broken`` reads (every ``t.<name>``). A rule reading an optional column
        the source does not have is not checked: no value there can break it."""
        return frozenset(re.findall(r"\bt\.([A-Za-z_][A-Za-z0-9_]*)", self.broken))


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    key: str = "account_id"            # SQL expression used to show example rows
    unique: tuple[str, ...] = ()       # columns that must be unique together (an id)
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _C(name: str, kind: str = "str", required: bool = False, open_ended: bool = False) -> Column:
    return Column(name, kind, required, open_ended)


TABLES: dict[str, Table] = {t.name: t for t in [
    Table("accounts", (
        _C("account_id", required=True), _C("name", required=True), _C("segment", required=True),
        _C("csm", required=True), _C("arr", "float", True), _C("contracted_modules", "int", True),
        _C("signed_at", "date", True), _C("churned_at", "date", open_ended=True), _C("region"),
        _C("onboarding_due_at", "date"),
    ), required=True, unique=("account_id",), rules=(
        Rule("arr", "must be >= 0", "t.arr < 0"),
        Rule("contracted_modules", "must be a whole number >= 1", "t.contracted_modules < 1"),
        Rule("churned_at", "must be on or after signed_at", "t.churned_at < t.signed_at"),
        Rule("onboarding_due_at", "must be on or after signed_at", "t.onboarding_due_at < t.signed_at"),
    )),
    Table("milestones", (
        _C("account_id", required=True), _C("milestone", required=True), _C("reached_at", "date", True),
    ), required=True, key="t.account_id || ' ' || t.milestone", rules=(
        Rule("milestone", "must be one of " + ", ".join(MILESTONES), f"t.milestone NOT IN {_in(MILESTONES)}"),
    )),
    Table("usage", (
        _C("account_id", required=True), _C("date", "date", True), _C("module", required=True),
        _C("active_users", "int", True), _C("actions", "int", True),
    ), required=True, key="t.account_id || ' ' || CAST(t.date AS VARCHAR) || ' ' || t.module",
        unique=("account_id", "date", "module"), rules=(
        Rule("active_users", "must be >= 0", "t.active_users < 0"),
        Rule("actions", "must be >= 0", "t.actions < 0"),
    )),
    Table("contacts", (
        _C("contact_id", required=True), _C("account_id", required=True), _C("role", required=True),
        _C("is_executive_sponsor", "bool"), _C("name"), _C("started_at", "date"),
        _C("left_at", "date", open_ended=True),
    ), key="t.contact_id", unique=("contact_id",), rules=(
        Rule("role", "must be one of " + ", ".join(CONTACT_ROLES), f"t.role NOT IN {_in(CONTACT_ROLES)}"),
        Rule("left_at", "must be on or after started_at", "t.left_at < t.started_at"),
    )),
    Table("surveys", (
        _C("response_id", required=True), _C("account_id", required=True), _C("kind", required=True),
        _C("score", "int", True), _C("responded_at", "date", True), _C("contact_id"), _C("comment"),
    ), key="t.response_id", unique=("response_id",), rules=(
        Rule("kind", "must be one of " + ", ".join(SURVEY_KINDS), f"t.kind NOT IN {_in(SURVEY_KINDS)}"),
        Rule("score", "must be 0..10 for nps and onboarding_nps",
             "t.kind IN ('nps', 'onboarding_nps') AND (t.score < 0 OR t.score > 10)"),
        Rule("score", "must be 1..5 for csat", "t.kind = 'csat' AND (t.score < 1 OR t.score > 5)"),
        Rule("score", "must be 1..7 for ces", "t.kind = 'ces' AND (t.score < 1 OR t.score > 7)"),
    )),
    Table("touchpoints", (
        _C("account_id", required=True), _C("date", "date", True), _C("kind", required=True),
        _C("direction", required=True), _C("responded", "bool"), _C("attended", "bool"),
    ), key="t.account_id || ' ' || CAST(t.date AS VARCHAR)", rules=(
        Rule("kind", "must be one of " + ", ".join(TOUCH_KINDS), f"t.kind NOT IN {_in(TOUCH_KINDS)}"),
        Rule("direction", "must be outbound or inbound", f"t.direction NOT IN {_in(DIRECTIONS)}"),
    )),
    Table("tickets", (
        _C("ticket_id", required=True), _C("account_id", required=True), _C("opened_at", "date", True),
        _C("resolved_at", "date", open_ended=True), _C("priority"), _C("escalated", "bool"),
    ), key="t.ticket_id", unique=("ticket_id",), rules=(
        Rule("priority", "must be one of " + ", ".join(PRIORITIES), f"t.priority NOT IN {_in(PRIORITIES)}"),
        Rule("resolved_at", "must be on or after opened_at", "t.resolved_at < t.opened_at"),
    )),
    Table("outcomes", (
        _C("account_id", required=True), _C("outcome", required=True), _C("due_at", "date", True),
        _C("achieved_at", "date"),
    ), key="t.account_id || ' ' || t.outcome"),
    Table("readiness", (
        _C("account_id", required=True), _C("item", required=True), _C("completed_at", "date"),
        _C("weight", "float"),
    ), key="t.account_id || ' ' || t.item", rules=(
        Rule("weight", "must be > 0", "t.weight <= 0"),
    )),
    Table("time_entries", (
        _C("csm", required=True), _C("date", "date", True), _C("hours", "float", True),
        _C("customer_work", "bool", True),
    ), key="t.csm || ' ' || CAST(t.date AS VARCHAR)", rules=(
        Rule("hours", "must be > 0", "t.hours <= 0"),
    )),
    Table("advocacy", (
        _C("account_id", required=True), _C("date", "date", True), _C("kind", required=True),
    ), key="t.account_id || ' ' || CAST(t.date AS VARCHAR)", rules=(
        Rule("kind", "must be one of " + ", ".join(ADVOCACY_KINDS), f"t.kind NOT IN {_in(ADVOCACY_KINDS)}"),
    )),
    Table("overrides", (
        _C("account_id", required=True), _C("colour", required=True), _C("reason", required=True),
        _C("author", required=True), _C("set_at", "date", True), _C("expires_at", "date", open_ended=True),
    ), key="t.account_id || ' ' || CAST(t.set_at AS VARCHAR)", rules=(
        Rule("colour", "must be red, amber or green", f"t.colour NOT IN {_in(COLOURS)}"),
        Rule("expires_at", "must be after set_at", "t.expires_at <= t.set_at"),
    )),
    # A contract is active on day d when starts_at <= d < ends_at (ends_at: the renewal day, the
    # first day it no longer covers); modules are `;`-separated names, none of them empty.
    Table("contracts", (
        _C("account_id", required=True), _C("contract_id", required=True), _C("starts_at", "date", True),
        _C("ends_at", "date", True), _C("arr", "float", True), _C("licensed_users", "int"), _C("modules"),
        _C("kind"),
    ), key="t.contract_id", unique=("contract_id",), rules=(
        Rule("ends_at", "must be after starts_at", "t.ends_at <= t.starts_at"),
        Rule("arr", "must be >= 0", "t.arr < 0"),
        Rule("licensed_users", "must be a whole number >= 1", "t.licensed_users < 1"),
        Rule("modules", "must be module names separated by ';', none of them empty",
             r"regexp_matches(t.modules, '(^|;)\s*(;|$)')"),
        Rule("kind", "must be one of " + ", ".join(CONTRACT_KINDS), f"t.kind NOT IN {_in(CONTRACT_KINDS)}"),
    )),
]}

TABLE_ORDER = tuple(TABLES)
REQUIRED_TABLES = tuple(n for n, t in TABLES.items() if t.required)

# Rules that compare a table's date with its account's signature date.
SIGNED_RULES: dict[str, tuple[str, str]] = {
    "milestones": ("reached_at", "must be on or after the account's signed_at"),
}

# Rules between rows of one table: table -> (column, rule text). Contracts of one account must not
# overlap ([starts_at, ends_at) intervals) unless one of them is an add-on (kind ADD_ON_KIND).
OVERLAP_RULES: dict[str, tuple[str, str]] = {
    "contracts": ("starts_at", f"overlaps another contract of the same account: only kind {ADD_ON_KIND} "
                  "(an add-on) may overlap; a renewal starts on or after the ends_at of the contract it renews"),
}
# Without a `kind` column an add-on cannot be told from a renewal, so the overlap rule above cannot
# be broken: overlapping contracts are a warning with this text instead (their ARR is summed).
OVERLAP_WITHOUT_KIND = ("overlaps another contract of the same account; the source has no kind column, so an "
                        "add-on (kind expansion) cannot be told from an early renewal: the ARR of overlapping "
                        "contracts is summed and the next renewal is the ends_at of the one that started last")


def _contract_version() -> str:
    """A short sha256 of every definition above that decides what validation finds: the tables,
    their columns, kinds, keys and rules, the signature rules and the limits. Computed at import,
    so a changed rule changes it without anyone remembering to (validation receipts depend on it)."""
    import hashlib
    text = repr((TABLES, SIGNED_RULES, OVERLAP_RULES, OVERLAP_WITHOUT_KIND, ADD_ON_KIND, SQL_TYPES, KIND_WORDS,
                 DATE_MIN, DATE_MAX, OPEN_END_FROM, INT_MIN, INT_MAX))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# Changes whenever a rule of the contract changes (see _contract_version).
CONTRACT_VERSION = _contract_version()
