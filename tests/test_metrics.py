"""Supporting metrics (workbook.metrics) and the KPI settings, on tests/fixtures/kpi_world.

See tests/test_kpis.py for the fixture's accounts; the values used here are worked out below.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from workbook import kpis, metrics
from workbook.errors import BadInput
from workbook.workspace import open_data

FIXTURE = Path(__file__).parent / "fixtures" / "kpi_world"
AS_OF = "2026-06-20"


@pytest.fixture(scope="module")
def ws():
    w = open_data(FIXTURE)
    yield w
    w.close()


def test_ttv_by_segment(ws):
    # week 06-14..06-20: t1 (SMB) 75, t2 (SMB) 92 -> mean = median = 83.5, p75 = 75 + .75 x 17 = 87.75
    w = metrics.ttv_by_segment(ws, as_of=AS_OF, period="week")
    assert w["segment"].tolist() == ["SMB"]
    assert w.iloc[0][["n", "mean", "median", "p75", "target", "status"]].tolist() == [
        2, 83.5, 83.5, 87.75, 21.0, "off target"]
    # month: Enterprise t6 98 (target 45), Mid-Market t3 90 (30), SMB 66, 75, 92 (21)
    m = metrics.ttv_by_segment(ws, as_of=AS_OF, period="month").set_index("segment")
    assert m.loc["SMB", ["n", "median", "p75"]].tolist() == [3, 75.0, 83.5]
    assert m.loc["SMB", "mean"] == pytest.approx(233 / 3)
    assert m.loc["Enterprise", ["mean", "target"]].tolist() == [98.0, 45.0]


def test_adoption_per_account_against_the_benchmark(ws):
    # Window 05-24..06-20. Accounts using the product: c1, c2, c3, c4, r2 (c7's 05-20, r1's 05-18 and
    # r3's 05-21 are outside; r3's 06-10 row has actions 0; t1's 06-25 is after as_of).
    #   c1 3 modules: A 2u/5a               -> breadth 1/3, depth 2.5, frequency 1, stakeholders 2
    #   c2 2 modules: B 1u/4a (A: 0 actions) -> .5, 4, 1, 1
    #   c3 4 modules: A 2/6, B 2/6, C 1/2    -> .75, 14/5 = 2.8, 3, 2
    #   c4 1 module : A 1/2, B 1/1           -> min(1, 2/1) = 1, 1.5, 2, 1
    #   r2 3 modules: A 3u/12a               -> 1/3, 4, 1, 3
    # No segment has 5 users (benchmark_min_accounts), so every benchmark is everyone's median:
    # breadth (1/3, 1/3, .5, .75, 1) -> .5; depth (1.5, 2.5, 2.8, 4, 4) -> 2.8; frequency (1,1,1,2,3) -> 1;
    # stakeholders (1, 1, 2, 2, 3) -> 2
    a = metrics.adoption(ws, as_of=AS_OF).set_index("account_id")
    assert len(a) == 35 and "x1" not in a.index and "r4" not in a.index
    assert list(a.columns[:4]) == ["name", "segment", "csm", "tenure_band"]
    assert a.loc["c3", ["breadth", "depth", "frequency", "stakeholders"]].tolist() == pytest.approx([0.75, 2.8, 3, 2])
    assert a.loc["c4", ["breadth", "depth", "frequency", "stakeholders"]].tolist() == pytest.approx([1.0, 1.5, 2, 1])
    assert a.loc["c3", ["bench_breadth", "bench_depth", "bench_frequency", "bench_stakeholders"]].tolist() == \
        pytest.approx([0.5, 2.8, 1, 2])
    assert set(a["bench_basis"]) == {"all"}
    # c3: .75 > .55 above; 2.8 at; 3 > 1.1 above; 2 at
    assert a.loc["c3", ["flag_breadth", "flag_depth", "flag_frequency", "flag_stakeholders"]].tolist() == [
        "above", "at", "above", "at"]
    assert a.loc["t1", ["flag_breadth", "flag_depth", "flag_frequency", "flag_stakeholders"]].tolist() == ["below"] * 4
    # tenure: c4 signed 04-18 -> 63 days = 9 weeks; r2 signed 2025-10-01 -> 13+
    assert (a.loc["c4", "tenure_band"], a.loc["r2", "tenure_band"]) == ("9-12", "13+")


def test_adoption_summary_in_the_report(ws):
    out = kpis.compute(ws, as_of=AS_OF)["metrics"]["adoption"]
    # breadth against .5 (at = .45 .. .55): c1 1/3 below, c2 .5 at, c3 .75 above, c4 1 above, r2 1/3
    # below; the 30 accounts without use are below on all four (c1 is at on frequency: not all four)
    assert out["breadth"] == {"below": 32, "at": 1, "above": 2}
    assert out["below_on_all_four"] == 30


def test_past_due_closes_on_handover_and_keeps_later_churn(ws):
    late = metrics.past_due(ws, as_of=AS_OF)
    # p2 churns 06-25 (after as_of): still open, 06-20 - 04-30 = 51 days late; c5 06-20 - 06-08 = 12.
    # p3's due date (04-10) passed but it was handed over on 04-05; p1 churned 06-16.
    assert late["account_id"].tolist() == ["p2", "c5"]
    assert late["days_overdue"].tolist() == [51, 12]
    # on 06-13 p1 (due 04-15, churns later) is still open: 59 days late
    early = metrics.past_due(ws, as_of="2026-06-13").set_index("account_id")
    assert early.loc["p1", "days_overdue"] == 59 and "p3" not in early.index


def test_metrics_table_statuses(ws):
    t = metrics.metrics_table(ws, as_of=AS_OF).set_index("key")
    assert t.loc["ces", ["value", "target", "status"]].tolist() == [5.5, 5.5, "on target"]   # at target = on
    assert t.loc["advocacy_events", ["value", "status"]].tolist() == [2, "no target"]
    assert t.loc["open_onboardings_past_due", ["value", "n", "previous", "status"]].tolist() == [2, 17, 3, "off target"]
    assert t.loc["utilization", "change"] == pytest.approx(10 / 12 - 0.5)


def test_summary_text(ws):
    with kpis.open_context(ws, AS_OF) as ctx:
        from workbook import periods
        per = periods.month(ctx.as_of)
        text = metrics.summary_text(metrics.supporting(ctx, per))
    assert "SMB" in text and "median 75.0" in text and "p75 83.5" in text
    assert "leaves out 1 account(s)" in text


# ------------------------------------------------------------------------------------------------ settings
def base() -> dict:
    return {"onboarding_window_days": {"SMB": 45, "default": 60}, "activation_window_days": 30,
            "targets": {"adoption_rate": 0.7}, "metric_targets": {"nps": 30}}


def test_settings_from_the_repository_file():
    cfg = kpis.settings()
    assert cfg.onboarding_window_days == {"SMB": 45, "Mid-Market": 60, "Enterprise": 90, "default": 60}
    assert cfg.activation_window_days == 30
    assert set(cfg.targets) == set(kpis.MEASURES)
    assert cfg.window_for("Startup") == 60 and cfg.window_for("Enterprise") == 90


def test_settings_defaults_and_missing_targets():
    cfg = kpis.settings(base())
    assert cfg.window_for("SMB") == 45 and cfg.window_for("Enterprise") == 60     # not mapped -> default
    assert cfg.targets["adoption_rate"] == 0.7 and cfg.targets["activation_rate"] is None


@pytest.mark.parametrize("change, column", [
    ({"onboarding_window_days": {"SMB": 45}}, "onboarding_window_days"),           # no default
    ({"onboarding_window_days": {"default": 0}}, "onboarding_window_days.default"),
    ({"onboarding_window_days": {"default": 45.5}}, "onboarding_window_days.default"),
    ({"activation_window_days": "thirty"}, "activation_window_days"),
    ({"targets": {"adoption_rate": "high"}}, "targets.adoption_rate"),
    ({"targets": {"adoption": 0.7}}, "targets"),                                  # unknown key
    ({"metric_targets": [1, 2]}, "metric_targets"),
])
def test_bad_settings_are_bad_input_naming_the_key(change, column):
    raw = {**base(), **change}
    with pytest.raises(BadInput) as err:
        kpis.settings(raw)
    assert err.value.table == "params/targets.yaml" and err.value.column == column


def test_format_value_units():
    assert kpis.format_value(0.825, "fraction") == "82.5%"
    assert kpis.format_value(0.025, "fraction", change=True) == "+2.5 pp"
    assert kpis.format_value(-1.25, "days", change=True) == "-1.2 days"
    assert kpis.format_value(35.0, "nps") == "+35.0"
    assert kpis.format_value(None, "days") == "—"
