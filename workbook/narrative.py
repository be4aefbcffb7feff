"""The sentences reports print, built from the numbers: plain words a leader reads in ninety seconds.

Every function here is pure: numbers in (a KPI table, counts, a cycle result), text out (plain
text, not HTML: the report layer escapes it). Nothing is computed here that a report shows as a
figure; the sentences only restate numbers that the package computed and tested elsewhere.

- :func:`weekly_headline`: one sentence on the state of the function this week.
- :func:`monthly_story`: the three or four sentences of the monthly executive summary.
- :func:`recommendation`: the one recommendation that needs a leadership decision.
- :func:`five_lines`: the post-cycle summary (hypothesis, intervention, result, decision, next cycle).
- :func:`calibration_summary`: what the calibration review found, in two sentences.

Wording rules (docs/report-guide.md): KPI values are written in their unit (``72.7%``,
``45.6 days``, ``+12.5`` NPS points, ``77.7`` readiness points); "ahead"/"behind" and
"improved"/"worsened" always follow the KPI's ``better`` direction; a KPI without data is said
to have no data, never to be zero.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from . import display
from .display import is_missing

_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


# ---------------------------------------------------------------------------- small helpers
def number_word(n: int) -> str:
    """``n`` as a word for 0..10 (``"five"``), digits with thousands separators above."""
    n = int(n)
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 account"``, ``"3 accounts"`` (digits, thousands separators)."""
    return f"{int(n):,} {word if int(n) == 1 else (many or word + 's')}"


def join_words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [str(i) for i in items]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def label_in_sentence(label: str) -> str:
    """A KPI label inside a sentence: first letter lower case unless it starts an acronym."""
    label = str(label)
    if len(label) > 1 and label[:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def value_text(value, unit: str) -> str:
    """A KPI value in its unit: ``72.7%`` (fraction), ``45.6 days``, ``+12.5`` (NPS), ``77.7`` (points),
    ``5.50`` (CES), ``12`` (count); ``no data`` when missing (:func:`workbook.display.text`)."""
    return display.text(value, unit, missing="no data")


def amount_text(amount, unit: str) -> str:
    """The size of a difference (no sign) in words: ``7.7 percentage points``, ``3.1 days``,
    ``8.0 points`` (NPS and readiness), ``0.25`` (CES) (:func:`workbook.display.amount_text`)."""
    return display.amount_text(amount, unit)


def money_text(amount) -> str:
    """Whole dollars with a short scale: ``$950``, ``$12,300``, ``$1.2M`` (:func:`workbook.display.text`)."""
    return display.text(float(amount), "money")


def score_basis(measured: Mapping | None, *, low_coverage: float = 0.8, live: int | None = None,
                as_of=None) -> str | None:
    """What a reader must know about the health score before trusting it, or None.

    ``measured`` is :func:`workbook.health.measured` (``measured``, ``unmeasured``, ``coverage``,
    ``unscored``). Examples: ``health measured on adoption and outcomes only: coverage 50 %,
    no data for engagement, sentiment and relationship``; ``health coverage 62 %`` when every
    dimension has data somewhere but on average less than ``low_coverage`` of the weight is
    backed by data. None when the score stands on all five dimensions with good coverage.
    ``live``: how many accounts the health table holds; with none, ``no live accounts on
    2015-09-05`` (``as_of``) — nothing was scored, which says nothing about the source's data.
    """
    if live == 0:
        return "no live accounts" + ("" if as_of is None else f" on {display.date_text(as_of)}")
    if not measured:
        return None
    have, missing = list(measured.get("measured") or []), list(measured.get("unmeasured") or [])
    cov = measured.get("coverage")
    cov_text = "coverage n/a" if is_missing(cov) else f"coverage {abs(round(100 * float(cov))):.0f} %"
    parts = []
    if missing:
        if have:
            parts.append(f"health measured on {join_words(have)} only: {cov_text}, no data for {join_words(missing)}")
        else:
            parts.append("no health dimension has data in this source")
    elif not is_missing(cov) and float(cov) < low_coverage:
        parts.append(f"health {cov_text}")
    unscored = int(measured.get("unscored") or 0)
    if unscored and have:
        parts.append(f"{plural(unscored, 'account')} not scored")
    return ", ".join(parts) if parts else None


def small_cohorts(kpis, minimum: int | None) -> str | None:
    """KPIs with a value that rests on fewer than ``minimum`` accounts, in words, or None.

    ``time to value rests on 6 accounts``; ``time to value and adoption rate rest on fewer than
    10 accounts (6 and 4)``; with more than three, ``five of the six KPIs with a value rest on
    fewer than 10 accounts`` or ``every KPI with a value rests on fewer than 10 accounts``.
    None when ``minimum`` is None or every value has a large enough cohort.
    """
    if not minimum:
        return None
    few = [r for r in _rows(kpis) if not is_missing(r.get("value")) and not is_missing(r.get("n"))
           and 0 < int(r["n"]) < int(minimum)]
    if not few:
        return None
    valued = [r for r in _rows(kpis) if not is_missing(r.get("value"))]
    names = join_words([label_in_sentence(r["kpi"]) for r in few])
    if len(few) == 1:
        return f"{names} rests on {plural(int(few[0]['n']), 'account')}"
    if len(few) <= 3:
        return f"{names} rest on fewer than {int(minimum)} accounts ({join_words([str(int(r['n'])) for r in few])})"
    if len(few) == len(valued):
        return f"every KPI with a value rests on fewer than {int(minimum)} accounts"
    return (f"{number_word(len(few))} of the {number_word(len(valued))} KPIs with a value rest on fewer than "
            f"{int(minimum)} accounts")


def shortfall(value, target, better: str) -> float | None:
    """How far ``value`` is behind ``target``, as a share of the target (0 when on or ahead).

    ``(target − value) / |target|`` when higher is better, ``(value − target) / |target|`` when
    lower is better; with a target of 0 the plain difference. None without a value or target.
    Used to pick the KPI that is *furthest* behind across different units.
    """
    if is_missing(value) or is_missing(target):
        return None
    gap = float(target) - float(value) if better == "higher" else float(value) - float(target)
    gap = max(gap, 0.0)
    return gap / abs(float(target)) if float(target) != 0 else gap


def _rows(kpis) -> list[dict]:
    """KPI rows as dicts (from a :func:`workbook.kpis.kpi_table` frame or a list of dicts)."""
    if isinstance(kpis, pd.DataFrame):
        return kpis.to_dict("records")
    return [dict(r) for r in kpis]


def furthest_behind(kpis) -> dict | None:
    """The off-target KPI row with the largest :func:`shortfall` (None when none is off target)."""
    off = [r for r in _rows(kpis) if r.get("status") == "off target"]
    scored = [(shortfall(r["value"], r["target"], r["better"]) or 0.0, i, r) for i, r in enumerate(off)]
    if not scored:
        return None
    return max(scored, key=lambda t: (t[0], -t[1]))[2]


def against_target(row: Mapping) -> str:
    """``+12.5 against a target of +40.0``."""
    return f"{value_text(row['value'], row['unit'])} against a target of {value_text(row['target'], row['unit'])}"


def _kpi_list(rows: list[dict], total: int, other: bool = False) -> str:
    """Names when three or fewer, else "five KPIs" (or "the other five KPIs")."""
    if len(rows) <= 3:
        return join_words([label_in_sentence(r["kpi"]) for r in rows])
    if len(rows) == total:
        return f"all {number_word(total)} KPIs"
    return f"{'the other ' if other else ''}{number_word(len(rows))} KPIs"


# ---------------------------------------------------------------------------- weekly
def weekly_headline(kpis, *, red: int, new_red: int = 0, period: str = "week", basis: str | None = None,
                    few: str | None = None) -> str:
    """One sentence on the state of the function this ``period``.

    ``kpis``: the rows of :func:`workbook.kpis.kpi_table` (``kpi``, ``unit``, ``value``,
    ``target``, ``better``, ``status``). ``red``: accounts whose final colour is red;
    ``new_red``: of those, how many were not red at the start of the period. ``basis``
    (:func:`score_basis`) is said in brackets after the red count and ``few``
    (:func:`small_cohorts`) after the KPIs, so what limits trust is in the headline itself.

    Example: "We are ahead on adoption rate and first-90-day retention and behind on the other
    five KPIs, furthest on onboarding NPS (+12.5 against a target of +40.0); 84 accounts are red,
    6 of them new this week."
    """
    rows = _rows(kpis)
    total = len(rows)
    on = [r for r in rows if r.get("status") == "on target"]
    off = [r for r in rows if r.get("status") == "off target"]
    none = [r for r in rows if r.get("status") == "no data"]
    parts = []
    if on and not off:
        parts.append(f"We are on target on {_kpi_list(on, total)}")
    elif off:
        worst = furthest_behind(off)
        behind = f"behind on {_kpi_list(off, total, other=bool(on) and len(on) + len(off) == total)}"
        if len(off) > 1:
            behind += f", furthest on {label_in_sentence(worst['kpi'])}"
        behind += f" ({against_target(worst)})"
        parts.append(f"We are ahead on {_kpi_list(on, total)} and {behind}" if on else f"We are {behind}")
    else:
        parts.append(f"No onboarding KPI had data this {period}")
    if none and (on or off):
        parts.append(f"no data this {period} for {_kpi_list(none, total)}")
    if few:
        parts.append(few)
    if not red:
        reds = "no account is red"
    else:
        reds = f"{plural(red, 'account')} {'is' if red == 1 else 'are'} red, "
        reds += (f"{new_red:,} of them new this {period}" if new_red and red > 1 else
                 f"new this {period}" if new_red else f"none new this {period}")
    if basis:
        reds += f" ({basis})"
    parts.append(reds)
    return "; ".join(parts) + "."


# ---------------------------------------------------------------------------- monthly
def biggest_moves(kpis, k: int = 2) -> list[dict]:
    """The ``k`` KPI rows whose value moved most against the previous period, as a share of the
    target (so days and percentages compare); rows without a value, previous value or a change
    of zero are skipped."""
    moves = []
    for i, r in enumerate(_rows(kpis)):
        if is_missing(r.get("value")) or is_missing(r.get("previous")):
            continue
        change = float(r["value"]) - float(r["previous"])
        if change == 0:
            continue
        scale = abs(float(r["target"])) if not is_missing(r.get("target")) and float(r["target"]) != 0 else 1.0
        moves.append((abs(change) / scale, -i, r))
    moves.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [r for _, _, r in moves[:k]]


def move_text(row: Mapping) -> str:
    """``onboarding completion rate improved 7.7 percentage points to 61.5%`` (direction by ``better``)."""
    change = float(row["value"]) - float(row["previous"])
    improved = change > 0 if row["better"] == "higher" else change < 0
    return (f"{label_in_sentence(row['kpi'])} {'improved' if improved else 'worsened'} "
            f"{amount_text(change, row['unit'])} to {value_text(row['value'], row['unit'])}")


def monthly_story(kpis, *, period_label: str, previous_label: str, first_value: int, completed: int,
                  red: int, red_arr: float, top_risk: Mapping | None = None, basis: str | None = None,
                  few: str | None = None) -> str:
    """The three or four sentences of page 1 of the monthly executive summary.

    1. What the function delivered: first values and completed onboardings in the period, and how
       many of the KPIs with a target are on target.
    2. What changed: the two biggest moves against the previous period (:func:`biggest_moves`).
    3. What leadership needs to know: red accounts and their ARR, naming the largest.
    4. Where the function is furthest from target (omitted when every KPI is on target).

    ``top_risk``: ``{"name", "arr", "csm"}`` of the largest red account, or None. ``basis``
    (:func:`score_basis`) is said in brackets in sentence 3 and ``few`` (:func:`small_cohorts`)
    ends sentence 1, so the story stays three or four sentences.
    """
    rows = _rows(kpis)
    with_target = [r for r in rows if r.get("status") in ("on target", "off target")]
    on = [r for r in with_target if r["status"] == "on target"]
    n, k = len(with_target), len(on)
    if n == 0:
        standing = "no KPI had data to compare with its target"
    elif n == 1:
        standing = f"the one KPI with data is {'on' if k else 'off'} target"
    elif k == n:
        standing = f"all {number_word(n)} KPIs with data are on target"
    elif k == 0:
        standing = f"none of the {number_word(n)} KPIs with data is on target"
    else:
        standing = f"{number_word(k)} of the {number_word(n)} KPIs with data {'is' if k == 1 else 'are'} on target"
    s1 = (f"In {period_label}, {plural(first_value, 'customer')} reached first value and "
          f"{plural(completed, 'customer')} completed onboarding; {standing}"
          + (f"; {few}." if few else "."))
    moves = biggest_moves(rows)
    if moves:
        s2 = f"Against {previous_label}, " + join_words([move_text(m) for m in moves]) + "."
    else:
        s2 = f"No KPI can be compared with {previous_label}."
    s2 = s2[0].upper() + s2[1:]
    if red:
        s3 = (f"{plural(red, 'account')} {'is' if red == 1 else 'are'} red"
              + (f" ({basis})" if basis else "") + f", holding {money_text(red_arr)} of ARR")
        if top_risk:
            s3 += (f"; the largest is {top_risk['name']} ({money_text(top_risk['arr'])}, owner "
                   f"{top_risk['csm']})")
        s3 += "."
    else:
        s3 = "No account is red" + (f" ({basis})." if basis else ".")
    sentences = [s1, s2, s3]
    worst = furthest_behind(rows)
    if worst is not None:
        s4 = f"Furthest from target: {label_in_sentence(worst['kpi'])} at {against_target(worst)}."
        sentences.append(s4)
    return " ".join(sentences)


RECOMMENDATION_FIELDS = ("kpi", "value", "target", "red", "red_arr")


def check_template(text: str, fields, where: str, key: str) -> None:
    """Refuse (BadInput naming ``where`` and ``key``) a text template that is malformed or uses a
    field other than ``fields``: found when the settings are read, not halfway through a report."""
    import string

    from .errors import BadInput
    try:
        used = [name for _, name, _, _ in string.Formatter().parse(str(text)) if name is not None]
    except ValueError as exc:
        raise BadInput(where, key, f"is not a valid text template ({exc}); write a literal brace as {{{{ or }}}}") \
            from None
    unknown = sorted(set(used) - set(fields))   # no attribute or index look-ups either
    if unknown or any(name == "" for name in used):
        bad = ", ".join("{" + n + "}" for n in unknown) or "{}"
        raise BadInput(where, key, f"uses the unknown field {bad}; it may use "
                       + ", ".join("{" + f + "}" for f in fields))


#: The recommendation when no KPI has data to compare with its target (``no_data`` in the
#: ``recommendations`` of params/monthly.yaml replaces it).
NO_KPI_DATA = ("No KPI has data to compare with its target this period, so none can say what to keep or change: "
               "first make sure the source records the milestones, surveys and readiness items the KPIs are "
               "built from.")


def recommendation(kpis, templates: Mapping[str, str], *, red: int = 0, red_arr: float = 0.0) -> str:
    """The one recommendation that needs a leadership decision or sponsorship.

    The KPI furthest behind its target (:func:`furthest_behind`) picks the template
    ``templates[key]`` (from ``params/monthly.yaml``); with every KPI that has data on target the
    ``on_target`` template is used; when no KPI has data to compare with its target, the
    ``no_data`` template (default :data:`NO_KPI_DATA`), never "every KPI is on target".
    Templates may use ``{kpi}``, ``{value}``, ``{target}``, ``{red}`` (count) and ``{red_arr}``
    (money text); with no red account, a sentence of the template that names ``{red}`` or
    ``{red_arr}`` is left out (no call to action about "the 0 red accounts").
    """
    worst = furthest_behind(kpis)
    compared = [r for r in _rows(kpis) if r.get("status") in ("on target", "off target")]
    fields = {"kpi": "", "value": "", "target": ""}
    if worst is not None:
        key = worst["key"]
        fields = {"kpi": label_in_sentence(worst["kpi"]), "value": value_text(worst["value"], worst["unit"]),
                  "target": value_text(worst["target"], worst["unit"])}
        fallback = "Sponsor a focused two-week improvement cycle on {kpi}: it is {value} against a target of {target}."
    elif compared:
        key, fallback = "on_target", "Keep the current plan: every KPI with data is on target."
    else:
        key, fallback = "no_data", NO_KPI_DATA
    template = templates.get(key) or (templates.get("default") if key != "no_data" else None) or fallback
    if not int(red):
        template = _without_red(str(template)) or fallback
    return str(template).format(red=f"{int(red):,}", red_arr=money_text(red_arr), **fields).strip()


def _without_red(template: str) -> str:
    """``template`` without its sentences that use ``{red}`` or ``{red_arr}`` (empty when all do)."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(template.split()))
    return " ".join(t for t in sentences if "{red}" not in t and "{red_arr}" not in t).strip()


# ---------------------------------------------------------------------------- as_of past the data
#: An ``as_of`` more than this many days after the last usage date gets a note (command line,
#: reports' data-quality section): past that day usage is unknown, and the scores read it as none.
AS_OF_GAP_DAYS = 7


def as_of_gap(as_of, last_usage, *, name: str = "as_of", threshold_days: int = AS_OF_GAP_DAYS) -> str | None:
    """The note for an ``as_of`` well past the source's last usage date, or None.

    ``--as-of 2016-06-01 is 273 days after the last usage date in the source (2015-09-02); usage
    after that day is unknown, not zero`` (``name`` is how the reader passed the day). None when
    ``as_of`` or ``last_usage`` is missing or the gap is ``threshold_days`` or fewer days.
    """
    if is_missing(as_of) or is_missing(last_usage):
        return None
    gap = (pd.Timestamp(as_of).normalize() - pd.Timestamp(last_usage).normalize()).days
    if gap <= threshold_days:
        return None
    return (f"{name} {display.date_text(as_of)} is {plural(gap, 'day')} after the last usage date in the source "
            f"({display.date_text(last_usage)}); usage after that day is unknown, not zero")


# ---------------------------------------------------------------------------- post-cycle
def interval_text(low, high, unit: str, better: str | None = None) -> str:
    """A 95% interval of a difference in words.

    ``between 2.1 and 11.8 days lower`` when both ends are on one side of zero, ``between 2.1 days
    lower and 5.0 days higher (no change is inside the interval)`` when it straddles zero.
    """
    if is_missing(low) or is_missing(high):
        return "not available (too few members)"
    low, high = float(low), float(high)
    if low == high == 0:
        return "exactly no change"
    if abs(low) < 5e-4:                # a bound that rounds to zero is zero, never "-0.0"
        low = 0.0
    if abs(high) < 5e-4:
        high = 0.0
    if low == high == 0:
        return "exactly no change"
    if low >= 0 or high <= 0:
        side = "higher" if low >= 0 else "lower"
        a, b = sorted([abs(low), abs(high)])
        return f"between {amount_text(a, unit).split(' ')[0]} and {amount_text(b, unit)} {side}"
    return (f"between {amount_text(low, unit)} lower and {amount_text(high, unit)} higher "
            "(no change is inside the interval)")


def cycle_result_line(result) -> str:
    """Line 3, the result: the metric in the cycle against the baseline, with the 95% interval.

    ``result`` is a :class:`workbook.post_cycle.CycleResult`.
    """
    r = result
    label = label_in_sentence(r.label)
    if r.cycle_value is None or r.baseline_value is None:
        missing = [w for w, v in (("the cycle", r.cycle_value), ("the baseline", r.baseline_value)) if v is None]
        return (f"No result: {label} has no data in {join_words(missing)} "
                f"({plural(r.cycle_n, 'member')} in the cycle, {r.baseline_n:,} in the baseline).")
    diff = r.difference
    moved = "did not change" if diff == 0 else ("rose" if diff > 0 else "fell")
    text = (f"{label[0].upper() + label[1:]} was {value_text(r.cycle_value, r.unit)} in the cycle "
            f"({plural(r.cycle_n, r.member)}) against {value_text(r.baseline_value, r.unit)} in the baseline "
            f"({plural(r.baseline_n, r.member)})")
    if diff != 0:
        text += f": it {moved} {amount_text(diff, r.unit)}"
    pct = round(100 * r.confidence)
    text += f"; the {pct}% interval for the change is {interval_text(r.ci_low, r.ci_high, r.unit, r.better)}."
    return text


def cycle_decision_line(result) -> str:
    """Line 4, the decision (keep / reverse / inconclusive) and the rule that made it."""
    r = result
    if r.decision == "keep":
        return f"Keep the change and make it the standard: {r.reason}."
    if r.decision == "reverse":
        return f"Reverse the change: {r.reason}."
    return f"Inconclusive, extend the cycle: {r.reason}."


def five_lines(cycle, result) -> list[tuple[str, str]]:
    """The five-line post-cycle summary as ``(label, sentence)`` pairs.

    ``cycle`` is a :class:`workbook.post_cycle.Cycle` (hypothesis, intervention and next cycle
    are the team's own words from ``params/post_cycle.yaml``), ``result`` its
    :class:`workbook.post_cycle.CycleResult`. When the decision is inconclusive the next cycle
    line says the current cycle is extended first.
    """
    def sentence(text: str) -> str:
        text = " ".join(str(text or "").split())
        if not text:
            return "(not given in params/post_cycle.yaml)"
        return text if text[-1] in ".!?" else text + "."
    nxt = sentence(cycle.next_cycle)
    if result.decision == "inconclusive":
        days = (cycle.end - cycle.start).days + 1
        nxt = f"First, run the same change for another {days} days; then: {nxt[0].lower() + nxt[1:]}"
    return [("Hypothesis", sentence(cycle.hypothesis)),
            ("Intervention", sentence(cycle.intervention)),
            ("Result", cycle_result_line(result)),
            ("Decision", cycle_decision_line(result)),
            ("Next cycle", nxt)]


# ---------------------------------------------------------------------------- calibration
def _weights_text(weights: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {int(v)}" for k, v in weights.items())


def calibration_summary(metrics: Mapping, *, colour_changes: int) -> str:
    """The recommendation (adopt or nothing should change, and why) and every calibration warning
    first, when ``metrics`` carries them; then two sentences: how the proposed weights rank
    churners against the current ones (AUC on the score, with the 95% interval of the
    difference) and what adopting them would change.

    ``metrics`` is :attr:`workbook.calibration.CalibrationResult.metrics`.
    """
    cur, prop, diff = metrics["current"], metrics["proposed"], metrics["difference"]["auc"]
    low, high = diff["ci"]
    if low is not None and low > 0:
        verdict = "rank churners better than"
    elif high is not None and high < 0:
        verdict = "rank churners worse than"
    else:
        verdict = "rank churners about as well as"
    ci = f"{low:+.3f} to {high:+.3f}" if low is not None and high is not None else "no interval"
    s1 = (f"The proposed weights ({_weights_text(prop['weights'])}) {verdict} the current "
          f"{cur.get('version') or 'weights'} on the later, held-out months: AUC {prop['auc']:.3f} against "
          f"{cur['auc']:.3f} (difference {diff['value']:+.3f}, 95% interval {ci}).")
    drift = metrics.get("drift") or {}
    s2 = (f"Adopting them would change the colour of {plural(colour_changes, 'account')} today"
          + (f"; drift is high on {drift['max_dimension']} (PSI {drift['max_psi']:.2f}), so a "
             "recalibration is due" if drift.get("recalibration_due") else "")
          + ".")
    return " ".join(p for p in (_calibration_verdict(metrics), s1, s2) if p)


def _calibration_verdict(metrics: Mapping) -> str:
    """The recommendation and every calibration warning, as the sentences a reviewer reads first
    (empty for metrics without them)."""
    parts = []
    rec = metrics.get("recommendation")
    if rec:
        reason = str(rec.get("reason", "")).strip().rstrip(".")
        if rec.get("adopt"):
            parts.append(f"Recommendation: adopt the proposed weights ({reason}).")
        else:
            why = reason.removeprefix("nothing should change: ")
            parts.append(f"Recommendation: nothing should change; keep the current weights ({why}).")
    warnings = [str(w).strip().rstrip(".") for w in metrics.get("warnings") or [] if str(w).strip()]
    if warnings:
        parts.append("Caveats: " + "; ".join(warnings) + ".")
    return " ".join(parts)


def bullet_items(items: Iterable) -> list[str]:
    """Non-empty items of a list as trimmed single-line strings."""
    return [" ".join(str(i).split()) for i in (items or []) if str(i or "").strip()]


__all__ = ["AS_OF_GAP_DAYS", "NO_KPI_DATA", "amount_text", "against_target", "as_of_gap", "biggest_moves",
           "bullet_items", "calibration_summary", "cycle_decision_line", "cycle_result_line", "five_lines",
           "furthest_behind", "interval_text", "join_words", "label_in_sentence", "money_text",
           "monthly_story", "move_text", "number_word", "plural", "recommendation", "shortfall", "value_text",
           "weekly_headline"]



def renewal_sentence(summary: Mapping, *, horizon_days: int, end, who: str = "") -> str:
    """The renewal forecast in one or two sentences (:func:`workbook.renewals.renewal_forecast`).

    ``12 renewals due by 2027-02-13 (the next 90 days), $1.2M ARR: 10.8 expected to renew (95 %
    interval 9 to 12), 91.3% of the ARR due against a target of 90.0% (on target); $104,000 ARR
    at risk.`` ``who`` (e.g. ``" in Ana's book"``) follows the count.
    """
    n = int(summary.get("n") or 0)
    when = f"by {pd.Timestamp(end):%Y-%m-%d} (the next {horizon_days:,} days)"
    if not n:
        return f"No renewal due{who} {when}."
    head = f"{plural(n, 'renewal')} due{who} {when}, {money_text(summary['arr_due'])} ARR"
    if summary.get("expected_renewals") is None:
        return head + ": no renewal probability is available, so nothing is expected yet."
    lo, hi = summary["interval"]
    text = (f"{head}: {summary['expected_renewals']:.1f} expected to renew (95 % interval {lo:,} to {hi:,})")
    rate, target = summary.get("expected_arr_rate"), summary.get("target")
    if rate is not None:
        text += f", {value_text(rate, 'fraction')} of the ARR due"
        if target is not None:
            text += (f" against a target of {value_text(target, 'fraction')} "
                     f"({'on target' if rate >= target else 'off target'})")
    return text + f"; {money_text(summary['arr_at_risk'])} ARR at risk."
