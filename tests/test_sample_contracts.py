"""The sample world's `contracts` table: its rules, its agreement with `accounts` and `usage`, and
its dependence on the latent qualities (docs/sample-world.md, "Contracts").

Every check reads the written files with pandas and recomputes what it needs (active contracts on
a day, terms, previous ARR) on its own, without the generator's helpers.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from workbook.sample import END_DATE, MODULES, simulate, write_sample

ACCOUNTS, SEED = 300, 3
END = pd.Timestamp(END_DATE)
KINDS = {"new", "renewal", "expansion", "contraction"}
COLUMNS = ["account_id", "contract_id", "starts_at", "ends_at", "arr", "licensed_users", "modules", "kind"]

# sha256 of every other file of write_sample(accounts=300, seed=3), taken by running the generator of
# commit 118d494, before the sample wrote contracts (usage: of its rows as CSV text, so that the check
# does not depend on the Parquet writer's version). Adding contracts must not change a byte of them.
BEFORE_CONTRACTS = {
    "accounts.csv": "36dadef787793181f4fcfa8f9f68c043872b08a586365035442d75b930475105",
    "advocacy.csv": "e3cafdc0dd938d2819768d42bdb9fc89ea5c1ab8bd1b3eaf3409f7abb36a1886",
    "contacts.csv": "58f3b4d2bc57c836cbd326b3b35ea505c4e58a0ffaedd9c54d59674b4d043796",
    "milestones.csv": "cb4da60046e04a95e0cafab1a846eff3daae273cd7b33fa68012f81e78356e01",
    "outcomes.csv": "ef1b9f731640354a71d14054f9f5e2bebecf4259dd63d7c221d971b77368522a",
    "overrides.csv": "cefa2311af46c578d548b5ebed8e4ac18eaa3a6b58633cf5335bba4fa067abcf",
    "readiness.csv": "bbaa686b09cbe2b4de24afb9c423681771ce3804b1fe32615007ef1e440ed9d5",
    "report_params.yaml": "1ea38318d650fab5db60359d4f8f986c0b9845a7e279da41bbf263dc27b68a2e",
    "surveys.csv": "9bc52cd521d99e6befa077ee117c005e1caa590a44baf3b29929d5a803afff47",
    "tickets.csv": "451dae3a8378db4da0807fa8a125a6189a33e781a578183ebb22e253775109c7",
    "time_entries.csv": "69268e0c23571f6fa9c78dd74da0a80dd2726bea60010458811e1401a42098f5",
    "touchpoints.csv": "a847994129ca3a4ea94ff48778933a46443cf9981e7ed52c48c121c9e8689475",
    "usage rows": "54ffc1e48466eab9587bc4ea5ef8db9d89cefa769f4d3312e3b69cd463b6cb0d",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("contracts") / "w"
    write_sample(out, accounts=ACCOUNTS, seed=SEED)
    accounts = pd.read_csv(out / "accounts.csv", parse_dates=["signed_at", "churned_at"])
    contracts = pd.read_csv(out / "contracts.csv", parse_dates=["starts_at", "ends_at"],
                            keep_default_na=False, na_values=[""])
    return out, accounts, contracts


def _base(contracts: pd.DataFrame) -> pd.DataFrame:
    return contracts[contracts["kind"] != "expansion"].sort_values(["account_id", "starts_at"])


def _active_on(contracts: pd.DataFrame, days: pd.Series) -> pd.DataFrame:
    """Contracts active on each account's day ``days[account_id]`` (starts_at <= d < ends_at)."""
    c = contracts.merge(days.rename("day").reset_index(), on="account_id")
    return c[(c["starts_at"] <= c["day"]) & (c["day"] < c["ends_at"])]


def _last_days(accounts: pd.DataFrame) -> pd.Series:
    """Each account's last day: the end of the world, or the day before churned_at."""
    last = accounts["churned_at"].fillna(END + pd.Timedelta(days=1)) - pd.Timedelta(days=1)
    return pd.Series(last.values, index=accounts["account_id"], name="day").rename_axis("account_id")


def _entitled(modules: pd.Series) -> pd.Series:
    return modules.str.split(";").map(frozenset)


def test_contracts_follow_the_rules_of_the_table(world):
    _, accounts, c = world
    assert list(c.columns) == COLUMNS
    assert c["contract_id"].is_unique and c["contract_id"].str.len().gt(0).all()
    assert set(c["account_id"]) == set(accounts["account_id"])          # every account has a contract
    assert (c["ends_at"] > c["starts_at"]).all()
    assert c["arr"].dtype.kind == "i" and (c["arr"] >= 0).all()
    assert c["licensed_users"].dtype.kind == "i" and (c["licensed_users"] >= 1).all()
    assert set(c["kind"]) == KINDS
    names = c["modules"].str.split(";").explode()
    assert names.isin(MODULES).all()
    assert not c["modules"].str.split(";").map(lambda m: len(m) != len(set(m))).any()   # no name twice


def test_base_contracts_follow_each_other_and_add_ons_sit_inside_one(world):
    _, accounts, c = world
    base = _base(c)
    nxt = base.groupby("account_id")["starts_at"].shift(-1)
    follows = nxt.notna()
    assert (nxt[follows] == base.loc[follows, "ends_at"]).all()          # no overlap, no gap
    first = base.groupby("account_id").head(1).merge(accounts, on="account_id")
    assert (first["kind"] == "new").all() and (first["starts_at"] == first["signed_at"]).all()
    assert (base["kind"] == "new").sum() == len(accounts)
    add = c[c["kind"] == "expansion"].reset_index()
    inside = add.merge(base, on="account_id", suffixes=("", "_base"))
    inside = inside[(inside["starts_at_base"] < inside["starts_at"]) & (inside["starts_at"] < inside["ends_at_base"])
                    & (inside["ends_at"] == inside["ends_at_base"])]
    assert len(add) > 0 and set(inside["index"]) == set(add["index"])   # each ends with the base it adds to


def test_nothing_starts_after_the_end_or_on_churn(world):
    _, accounts, c = world
    assert c["starts_at"].max() <= END
    with_churn = c.merge(accounts[["account_id", "churned_at"]], on="account_id")
    with_churn = with_churn[with_churn["churned_at"].notna()]
    assert (with_churn["starts_at"] < with_churn["churned_at"]).all()


def test_the_last_day_gives_the_accounts_arr_users_and_modules(world):
    out, accounts, c = world
    last = _last_days(accounts)
    active = _active_on(c, last)
    arr = active.groupby("account_id")["arr"].sum().reindex(accounts["account_id"], fill_value=0)
    assert (arr.values == accounts["arr"].values).all()
    modules = active.groupby("account_id")["modules"].agg(lambda m: frozenset().union(*_entitled(m)))
    assert (modules.reindex(accounts["account_id"]).map(len).values == accounts["contracted_modules"].values).all()
    live = accounts.loc[accounts["churned_at"].isna(), "account_id"]
    on_end = c[(c["starts_at"] <= END) & (END < c["ends_at"])]
    assert set(live) <= set(on_end["account_id"])
    assert live.size > 0.7 * ACCOUNTS


def test_modules_are_the_ones_the_account_uses(world):
    out, accounts, c = world
    entitled = c.groupby("account_id")["modules"].agg(lambda m: frozenset().union(*_entitled(m)))
    assert (entitled.reindex(accounts["account_id"]).map(len).values == accounts["contracted_modules"].values).all()
    usage = pq.read_table(out / "usage.parquet", columns=["account_id", "module"]).to_pandas().drop_duplicates()
    used = usage.groupby("account_id")["module"].agg(frozenset)
    assert all(used[a] <= entitled[a] for a in used.index)
    full = sum(used[a] == entitled[a] for a in used.index)
    assert full > 0.5 * len(used)                                      # most use everything they pay for


def test_terms_are_whole_years_and_multi_year_is_for_larger_accounts(world):
    _, accounts, c = world
    base = _base(c).merge(accounts[["account_id", "segment", "churned_at"]], on="account_id")
    held = base["ends_at"] == base["churned_at"]                      # non-renewal: runs on to churn
    whole = base[~held]
    years = whole["ends_at"].dt.year - whole["starts_at"].dt.year
    same_day = (whole["ends_at"].dt.strftime("%m-%d") == whole["starts_at"].dt.strftime("%m-%d"))
    assert same_day.all() and set(years) == {1, 2, 3}
    multi = (years > 1).groupby(whole["segment"]).mean()
    assert multi["Enterprise"] > 0.35 > multi["Mid-Market"] > multi["SMB"] and multi["SMB"] < 0.15
    assert (years[whole["segment"] == "SMB"] < 3).all()


def test_a_churn_soon_after_a_term_end_is_a_non_renewal(world):
    _, accounts, c = world
    base = _base(c).merge(accounts[["account_id", "churned_at"]], on="account_id")
    renewals = base[(base["kind"] != "new") & base["churned_at"].notna()]
    days = (renewals["churned_at"] - renewals["starts_at"]).dt.days
    assert not ((days >= 0) & (days < 30)).any()                      # no renewal just to churn within 30 days
    held = base[base["ends_at"] == base["churned_at"]]
    assert (held.groupby("account_id").size() == 1).all()


def test_renewals_keep_or_raise_arr_and_contractions_lower_it(world):
    _, _, c = world
    renewed = _base(c)
    renewed = renewed[renewed["kind"] != "new"]
    probe = pd.DataFrame({"account_id": renewed["account_id"].to_numpy(), "probe": np.arange(len(renewed)),
                          "day": (renewed["starts_at"] - pd.Timedelta(days=1)).to_numpy()})
    held = probe.merge(c, on="account_id")
    held = held[(held["starts_at"] <= held["day"]) & (held["day"] < held["ends_at"])]
    previous = held.groupby("probe")["arr"].sum().reindex(probe["probe"], fill_value=0).to_numpy()
    change = renewed["arr"].to_numpy() - previous
    kind = renewed["kind"].to_numpy()
    assert (previous > 0).all()                                        # the day before, the account held it
    assert (change[kind == "contraction"] < 0).all() and (kind == "contraction").any()
    assert (change[kind == "renewal"] >= 0).all()
    assert (change[kind == "renewal"] > 0).any() and (change[kind == "renewal"] == 0).any()


def test_better_accounts_expand_more_and_contract_less(world):
    """Expansions per account-year in the top third of accounts by their mean true quality H over
    their life are well above those of the bottom third; contractions the other way round."""
    _, accounts, c = world
    w = simulate(ACCOUNTS, SEED)
    h, weeks = w.health(), np.arange(w.latent.shape[2])
    alive = (weeks[None, :] >= (w.signed // 7)[:, None]) & (weeks[None, :] <= ((w.end - 1) // 7)[:, None])
    mean_h = pd.Series(np.nanmean(np.where(alive, h, np.nan), axis=1), index=accounts["account_id"])
    third = pd.qcut(mean_h, 3, labels=["low", "mid", "high"])
    years = (accounts["churned_at"].fillna(END) - accounts["signed_at"]).dt.days.to_numpy() / 365.25
    counts = c.groupby(["account_id", "kind"]).size().unstack(fill_value=0)
    counts = counts.reindex(accounts["account_id"], fill_value=0)
    per_year = (counts["expansion"].groupby(third, observed=True).sum()
                / pd.Series(years, index=accounts["account_id"]).groupby(third, observed=True).sum())
    assert per_year["high"] > 3 * per_year["low"] and per_year["high"] > per_year["mid"] > per_year["low"]
    renewals = counts["renewal"] + counts["contraction"]
    cut = counts["contraction"].groupby(third, observed=True).sum() / renewals.groupby(third, observed=True).sum()
    assert cut["low"] > 0.15 > 0.05 > cut["high"]


def test_contracts_change_no_other_table(world):
    out, _, _ = world
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()
           if p.name not in ("contracts.csv", "usage.parquet")}
    usage = pd.read_parquet(out / "usage.parquet")
    got["usage rows"] = hashlib.sha256(usage.to_csv(index=False).encode()).hexdigest()
    assert got == BEFORE_CONTRACTS


def test_same_seed_gives_the_same_contracts(world, tmp_path):
    out, _, _ = world
    write_sample(tmp_path / "again", accounts=ACCOUNTS, seed=SEED)
    assert (tmp_path / "again" / "contracts.csv").read_bytes() == (out / "contracts.csv").read_bytes()
    write_sample(tmp_path / "other", accounts=ACCOUNTS, seed=SEED + 1)
    assert (tmp_path / "other" / "contracts.csv").read_bytes() != (out / "contracts.csv").read_bytes()
