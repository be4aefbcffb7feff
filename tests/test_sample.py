"""The sample world: determinism, the data contract, and the stories it promises to tell.

Checks on behaviour (declines, churn, champions) read the written files with pandas/pyarrow, so
they test what a user of the data sees, independently of the generator's internals.
"""
from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from workbook import sample
from workbook.contract import CONTACT_ROLES, MILESTONES, TABLES
from workbook.errors import BadInput
from workbook.sample import END_DATE, SCENARIOS, SCRIPT_NAME, TRUE_WEIGHTS, simulate, write_sample
from workbook.workspace import open_data

ACCOUNTS = 120
SEED = 7
END = pd.Timestamp(END_DATE)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 120-account world (seed 7) and the row counts write_sample returned."""
    out = tmp_path_factory.mktemp("sample") / "a"
    messages: list[str] = []
    counts = write_sample(out, accounts=ACCOUNTS, seed=SEED, progress=messages.append)
    return out, counts, messages


def _read(out, name: str) -> pd.DataFrame:
    if name == "usage":
        return pq.read_table(out / "usage.parquet").to_pandas()
    return pd.read_csv(out / f"{name}.csv", keep_default_na=False, na_values=[""])


def _usage_windows(out, ends: pd.Series) -> pd.DataFrame:
    """Breadth, depth, frequency and peak users over the 28 days ending on each account's end,
    and the 28 days before, computed from the Parquet file with pandas."""
    usage = _read(out, "usage")
    usage = usage[usage["actions"] > 0]
    usage["date"] = pd.to_datetime(usage["date"])
    usage = usage.merge(ends.rename("end").reset_index(), on="account_id")
    usage["age"] = (usage["end"] - usage["date"]).dt.days
    usage = usage[(usage["age"] >= 0) & (usage["age"] < 56)]
    usage = usage.assign(window=np.where(usage["age"] < 28, "last", "prev"))
    stats = usage.groupby(["account_id", "window"]).agg(
        breadth=("module", "nunique"), actions=("actions", "sum"), user_days=("active_users", "sum"),
        frequency=("date", "nunique"), peak=("active_users", "max"))
    stats["depth"] = stats["actions"] / stats["user_days"]
    return stats.unstack("window").fillna(0)


def _logistic_coefficients(x: np.ndarray, y: np.ndarray, steps: int = 30) -> np.ndarray:
    """Maximum-likelihood logistic regression by Newton's method; the slopes (no intercept)."""
    x1 = np.column_stack([np.ones(len(x)), x.astype(np.float64)])
    beta = np.zeros(x1.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-x1 @ beta))
        beta += np.linalg.solve(x1.T @ (x1 * (p * (1 - p))[:, None]), x1.T @ (y - p))
    return beta[1:]


def test_same_seed_gives_byte_identical_files(world, tmp_path):
    out, _, _ = world
    again = tmp_path / "b"
    write_sample(again, accounts=ACCOUNTS, seed=SEED)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(out, again, names, shallow=False)
    assert mismatch == [] and errors == []
    assert len(match) == 14                      # thirteen tables and report_params.yaml


def test_another_seed_gives_other_data(world, tmp_path):
    out, _, _ = world
    other = tmp_path / "c"
    write_sample(other, accounts=ACCOUNTS, seed=SEED + 1)
    for name in ("accounts.csv", "milestones.csv", "usage.parquet", "surveys.csv"):
        assert (out / name).read_bytes() != (other / name).read_bytes(), name


def test_every_table_is_written_with_the_spec_columns(world):
    out, counts, messages = world
    # contracts come last while the data contract does not list them yet (they join it with revenue)
    assert list(counts) == [*TABLES, *(["contracts"] if "contracts" not in TABLES else [])]
    for name, table in TABLES.items():
        path = out / (f"{name}.parquet" if name == "usage" else f"{name}.csv")
        assert path.exists(), name
        frame = _read(out, name)
        expected = [c.name for c in table.columns] + (["scenario"] if name == "accounts" else [])
        assert list(frame.columns) == expected, name
        assert len(frame) == counts[name] > 0, name
    assert {p.suffix for p in out.iterdir()} == {".csv", ".parquet", ".yaml"}   # no temporary files left
    assert any("usage" in m for m in messages)


def test_the_loader_accepts_the_world_with_only_the_repeated_milestone_warning(world):
    out, counts, _ = world
    with open_data(out) as ws:
        assert ws.errors == []
        assert [(f.table, f.column) for f in ws.warnings] == [("milestones", "milestone")]
        assert 3 <= ws.warnings[0].count <= 5
        assert ws.row_counts() == {name: n for name, n in counts.items() if name in TABLES}
        latest = ws.sql("SELECT max(date) AS d FROM usage")["d"].iloc[0]
        assert pd.Timestamp(latest) == END
        assert ws.default_as_of() == END


def test_accounts_cover_segments_dates_and_escaping_cases(world):
    out, _, _ = world
    acc = _read(out, "accounts")
    assert set(acc["segment"]) == {"SMB", "Mid-Market", "Enterprise"}
    signed = pd.to_datetime(acc["signed_at"])
    assert signed.max() <= END and (END - signed.min()).days >= 700        # about two years of signatures
    assert acc["contracted_modules"].between(1, len(sample.MODULES)).all()
    arr = acc.groupby("segment")["arr"].median()
    assert arr["SMB"] < arr["Mid-Market"] < arr["Enterprise"]
    assert 0 < acc["onboarding_due_at"].notna().mean() < 0.5                # some explicit due dates
    assert (acc["name"] == SCRIPT_NAME).sum() == 1
    comments = _read(out, "surveys")["comment"].dropna()
    for char in "<>&\"":
        assert comments.str.contains(char, regex=False).any(), char


def test_churn_dates_are_within_bounds_and_usage_stops(world):
    out, _, _ = world
    acc = _read(out, "accounts")
    churned = acc.dropna(subset=["churned_at"])
    assert 0.05 <= len(churned) / len(acc) <= 0.30
    assert (pd.to_datetime(churned["churned_at"]) >= pd.to_datetime(churned["signed_at"])).all()
    assert (pd.to_datetime(churned["churned_at"]) <= END).all()
    usage = _read(out, "usage")[["account_id", "date"]].merge(churned[["account_id", "churned_at"]])
    assert (pd.to_datetime(usage["date"]) < pd.to_datetime(usage["churned_at"])).all()


def test_scenario_column_names_each_accounts_story(world):
    out, _, _ = world
    acc = _read(out, "accounts")
    assert set(acc["scenario"]) == set(SCENARIOS)
    assert ((acc["scenario"] == "churned") == acc["churned_at"].notna()).all()
    assert (acc["scenario"] == "declining").mean() >= 0.05
    assert (simulate(ACCOUNTS, SEED).scenario == acc["scenario"].to_numpy()).all()


def test_declining_accounts_lose_breadth_depth_frequency_and_users(world):
    out, _, _ = world
    acc = _read(out, "accounts").set_index("account_id")
    stats = _usage_windows(out, pd.Series(END, index=acc.index))
    declining = stats.reindex(acc.index[acc["scenario"] == "declining"]).fillna(0)
    healthy = stats.reindex(acc.index[acc["scenario"] == "healthy"]).dropna()

    def all_four_lower(s: pd.DataFrame) -> pd.Series:
        measures = ("breadth", "depth", "frequency", "peak")
        return np.logical_and.reduce([s[(m, "last")] < s[(m, "prev")] for m in measures])

    assert (declining[("actions", "last")] < declining[("actions", "prev")]).all()
    assert (declining[("breadth", "last")] < declining[("breadth", "prev")]).mean() >= 0.9
    assert all_four_lower(declining).mean() >= 0.6
    assert all_four_lower(healthy).mean() <= 0.1


def test_churned_accounts_had_lower_latent_quality():
    w = simulate(400, SEED)
    health = w.health()                                            # (accounts, weeks)
    churned = np.flatnonzero(w.churn < sample.NEVER)
    alive = np.flatnonzero(w.churn == sample.NEVER)
    at_churn = health[churned, w.churn[churned] // 7]
    assert at_churn.mean() < health[alive, -1].mean() - 0.1
    for dim in (sample.A, sample.O):                              # the two heaviest true weights
        assert w.latent[churned, dim, w.churn[churned] // 7].mean() < w.latent[alive, dim, -1].mean()


def test_churn_hazard_recovers_the_true_weights():
    """A logistic model of 90-day churn on the latent qualities puts weight where the true mechanism does."""
    w = simulate(4000, SEED)
    features, labels = [], []
    for week in range(20, sample.WEEKS - 13, 4):
        alive = (w.signed // 7 + 16 <= week) & (w.churn > week * 7)
        features.append(w.latent[alive, :, week])
        labels.append(w.churn[alive] < (week + 13) * 7)
    coef = -_logistic_coefficients(np.concatenate(features), np.concatenate(labels))
    learned = 100 * coef / coef.sum()
    true = np.array([100 * TRUE_WEIGHTS[d] for d in sample.DIMENSIONS])
    assert np.abs(learned - true).max() < 10
    assert sorted(TRUE_WEIGHTS.values()) != sorted([0.30, 0.20, 0.15, 0.20, 0.15])


def test_milestones_are_ordered_and_some_accounts_stall(world):
    out, _, _ = world
    acc = _read(out, "accounts").set_index("account_id")
    ms = _read(out, "milestones")
    ms["reached_at"] = pd.to_datetime(ms["reached_at"])
    assert set(ms["milestone"]) == set(MILESTONES)
    first = ms.groupby(["account_id", "milestone"])["reached_at"].min().unstack()[list(MILESTONES)]
    signed = pd.to_datetime(acc.loc[first.index, "signed_at"])
    assert (first.min(axis=1) >= signed).all()
    ordered = first.apply(lambda row: row.dropna().is_monotonic_increasing, axis=1)
    assert ordered.all()
    old = signed < END - pd.Timedelta(days=200)
    assert (old & first["handover"].isna()).sum() > 0                     # stuck before handover
    reached = first.notna().to_numpy()
    gaps = (~reached[:, 1:5] & reached[:, 2:6].cumsum(axis=1)[:, ::-1].cumsum(axis=1)[:, ::-1].astype(bool)).any(axis=1)
    assert gaps.any()                                                      # a missing intermediate milestone


def test_contacts_champions_leave_and_championless_accounts_have_none(world):
    out, _, _ = world
    acc = _read(out, "accounts").set_index("account_id")
    con = _read(out, "contacts")
    assert set(con["role"]) == set(CONTACT_ROLES)
    left, started = pd.to_datetime(con["left_at"]), pd.to_datetime(con["started_at"])
    assert ((left > started) | left.isna() | started.isna()).all()
    assert (con["role"].eq("champion") & left.notna()).any()
    assert started.isna().any() and con["is_executive_sponsor"].any()
    active = con[(started.isna() | (started <= END)) & (left.isna() | (left > END))]
    with_champion = set(active.loc[active["role"] == "champion", "account_id"])
    championless = acc.index[acc["scenario"] == "championless"]
    assert len(championless) > 0 and not with_champion & set(championless)


def test_ticket_storms_bring_many_urgent_and_escalated_tickets(world):
    out, _, _ = world
    acc = _read(out, "accounts").set_index("account_id")
    tickets = _read(out, "tickets")
    per_account = tickets.groupby("account_id").agg(n=("ticket_id", "size"),
                                                    urgent=("priority", lambda p: (p == "urgent").sum()),
                                                    escalated=("escalated", "sum"))
    storm = per_account.reindex(acc.index[acc["scenario"] == "ticket_storm"]).fillna(0)
    calm = per_account.reindex(acc.index[acc["scenario"] == "healthy"]).fillna(0)
    assert storm["urgent"].mean() > 2 * calm["urgent"].mean()
    assert storm["escalated"].mean() > 2 * calm["escalated"].mean()
    resolved = tickets.dropna(subset=["resolved_at"])
    assert (pd.to_datetime(resolved["resolved_at"]) >= pd.to_datetime(resolved["opened_at"])).all()


def test_other_tables_follow_their_rules(world):
    out, _, _ = world
    surveys = _read(out, "surveys")
    assert set(surveys["kind"]) == {"nps", "onboarding_nps", "csat", "ces"}
    time = _read(out, "time_entries")
    assert (time["hours"] > 0).all()
    assert 0.70 <= (time["hours"] * time["customer_work"]).sum() / time["hours"].sum() <= 0.85
    assert time["csm"].nunique() >= 4
    overrides = _read(out, "overrides")
    assert 10 <= len(overrides) <= 20
    assert overrides["reason"].str.len().gt(0).all() and overrides["expires_at"].notna().any()
    readiness = _read(out, "readiness")
    assert readiness["account_id"].nunique() < ACCOUNTS                    # some accounts have no checklist
    assert (readiness["weight"].dropna() > 0).all()
    advocacy = _read(out, "advocacy").merge(_read(out, "accounts")[["account_id", "scenario"]])
    assert len(advocacy) > 0
    assert advocacy["scenario"].isin(["healthy", "declining"]).mean() > 0.5
    touch = _read(out, "touchpoints")
    assert touch.loc[touch["direction"] == "inbound", "responded"].isna().all()
    outcomes = _read(out, "outcomes")
    assert 0 < outcomes["achieved_at"].notna().mean() < 1


def test_usage_is_written_in_chunks_with_one_row_group_each(tmp_path, monkeypatch):
    monkeypatch.setattr(sample, "CHUNK_ACCOUNTS", 25)
    write_sample(tmp_path, accounts=60, seed=SEED)
    meta = pq.ParquetFile(tmp_path / "usage.parquet").metadata
    assert meta.num_row_groups == 3
    usage = _read(tmp_path, "usage")
    assert not usage.duplicated(["account_id", "date", "module"]).any()
    assert (usage[["active_users", "actions"]] >= 0).all().all()
    assert (usage["active_users"] > 0).all() and (usage["actions"] == 0).any()


# ---------------------------------------------------------------------------- the output folder
WORKBOOK = str(Path(sys.executable).with_name("workbook"))
SAMPLE_FILES = sorted([*(f"{t}.parquet" if t == "usage" else f"{t}.csv" for t in sample.BUILD_ORDER),
                       "report_params.yaml"])


def _sample_cli(out, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([WORKBOOK, "sample", "--out", str(out), "--accounts", "20", *args],
                          capture_output=True, text=True, timeout=300)


def _tree(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sample_refuses_a_folder_with_other_files_and_never_removes_them(tmp_path):
    out = tmp_path / "D"
    (out / "sub").mkdir(parents=True)
    (out / "precious.txt").write_text("keep me")
    (out / "sub" / "notes.md").write_text("and me")
    refused = _sample_cli(out)
    assert refused.returncode == 2
    assert str(out) in refused.stderr and "precious.txt" in refused.stderr and "sub/" in refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert _tree(out) == {"precious.txt": b"keep me", "sub/notes.md": b"and me"}

    forced = _sample_cli(out, "--force")
    assert forced.returncode == 0, forced.stderr
    tree = _tree(out)
    assert tree["precious.txt"] == b"keep me" and tree["sub/notes.md"] == b"and me"
    assert sorted(tree) == sorted([*SAMPLE_FILES, "precious.txt", "sub/notes.md"])   # no temporary leftovers
    assert sorted(p.name for p in out.iterdir()) == sorted([*SAMPLE_FILES, "precious.txt", "sub"])


def test_sample_rewrites_a_previous_sample_in_place(tmp_path):
    out, fresh = tmp_path / "D", tmp_path / "fresh"
    assert _sample_cli(out, "--seed", "1").returncode == 0
    first = _tree(out)
    again = _sample_cli(out, "--seed", "2")                  # only a previous sample there: no --force needed
    assert again.returncode == 0, again.stderr
    write_sample(fresh, accounts=20, seed=2)
    assert sorted(p.name for p in out.iterdir()) == SAMPLE_FILES
    assert _tree(out) == _tree(fresh) != first


def test_sample_refuses_a_table_given_in_the_other_format_even_with_force(tmp_path):
    out = tmp_path / "D"
    out.mkdir()
    (out / "usage.csv").write_text("account_id,date,module,active_users,actions\n")
    res = _sample_cli(out, "--force")
    assert res.returncode == 2
    assert "usage.csv" in res.stderr and "usage.parquet" in res.stderr and "twice" in res.stderr
    assert _tree(out) == {"usage.csv": b"account_id,date,module,active_users,actions\n"}


@pytest.mark.parametrize("seed", ["-1", "-7"])
def test_sample_negative_seed_is_bad_input(tmp_path, seed):
    out = tmp_path / "new" / "D"
    res = _sample_cli(out, "--seed", seed)
    assert res.returncode == 2
    assert "--seed" in res.stderr and ">= 0" in res.stderr and seed in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "new").exists()


def test_a_failure_keeps_the_previous_tables_and_adds_nothing(tmp_path, monkeypatch):
    out = tmp_path / "D"
    write_sample(out, accounts=20, seed=1)
    before = _tree(out)

    def broken(*_args):
        raise RuntimeError("generator failed half-way")
    monkeypatch.setitem(sample.BUILDERS, "advocacy", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        write_sample(out, accounts=20, seed=2)               # other data: earlier tables would differ
    assert _tree(out) == before
    assert sorted(p.name for p in out.iterdir()) == SAMPLE_FILES
    with pytest.raises(RuntimeError, match="half-way"):
        write_sample(tmp_path / "new" / "E", accounts=20, seed=2)
    assert not (tmp_path / "new").exists()                   # folders it created are removed again


def test_write_sample_checks_seed_and_folder_before_simulating(tmp_path):
    with pytest.raises(BadInput, match="--seed: must be a whole number >= 0, got 2.5"):
        write_sample(tmp_path / "a", accounts=20, seed=2.5)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("x")
    with pytest.raises(BadInput, match="notes.txt"):
        write_sample(tmp_path / "b", accounts=20)
    assert not (tmp_path / "a").exists() and [p.name for p in (tmp_path / "b").iterdir()] == ["notes.txt"]


def test_sample_carries_its_own_report_texts(sample_dir):
    """The sample's asks and worked cycle live beside its tables, not in params/ for every source."""
    import yaml
    from workbook.params import params_dir
    from workbook.sample import SAMPLE_REPORT_PARAMS
    text = (sample_dir / "report_params.yaml").read_text(encoding="utf-8")
    assert text == SAMPLE_REPORT_PARAMS
    doc = yaml.safe_load(text)
    assert len(doc["weekly"]["asks"]) == 3 and doc["post_cycle"]["metric"] == "activation_rate"
    assert (doc["post_cycle"]["cycle_start"], doc["post_cycle"]["cycle_end"]) == ("2026-11-02", "2026-11-15")
    shipped = yaml.safe_load((params_dir() / "weekly.yaml").read_text(encoding="utf-8"))
    assert shipped["asks"] == []
