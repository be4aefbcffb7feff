"""The sample world: a deterministic, realistic customer base for demos, tests and calibration.

:func:`write_sample` writes the thirteen tables of SPEC section 2 into a directory (``usage`` as
Parquet, every other table as CSV). The same ``accounts``, ``seed`` and ``end`` always give
byte-identical files.

Behind the tables sits a small simulation (:func:`simulate`): every account carries five latent
qualities (adoption, engagement, sentiment, outcomes, relationship), each 0..1 and moving week
by week. The qualities drive what the tables show (usage, touchpoints, surveys, milestones and
outcomes, contacts) and a weekly churn hazard whose *true* weights are :data:`TRUE_WEIGHTS`
(40/10/5/30/15, deliberately unlike the v1 weights), so calibration has something real to find.
Accounts are given stories (:data:`SCENARIOS`): a slow start, a stall, a lost champion, a ticket
storm, a usage decline. Contracts renew at each term end, with add-ons and up-priced renewals for
strong accounts and contractions for weak ones, and agree with each account's ARR, licensed users
and modules on its last day. ``docs/sample-world.md`` documents every formula and constant.

Usage is generated per chunk of accounts with vectorised numpy and streamed to a Parquet writer,
so 50,000 accounts (about 42 million usage rows) stay under 1.5 GB of memory.
"""
from __future__ import annotations

import operator
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .contract import MILESTONES, TABLE_ORDER, TABLES as CONTRACT
from .errors import BadInput
from .scoring import DIMENSIONS

END_DATE = "2026-11-15"          # the world's last day (a Sunday); the latest usage.date
DAYS = 735                       # 105 whole weeks, Monday .. END_DATE
WEEKS = DAYS // 7
NEVER = 10**7                    # day index of something that does not happen
CHUNK_ACCOUNTS = 1000            # usage is generated and written per chunk of accounts
ROW_GROUP_ROWS = 1 << 20

BUILD_ORDER = ("accounts", "milestones", "contacts", "touchpoints", "tickets", "surveys", "outcomes",
               "readiness", "time_entries", "advocacy", "overrides", "contracts", "usage")
MODULES = ("core", "reporting", "automation", "integrations", "analytics", "workflows", "mobile", "api")
TRUE_WEIGHTS = {"adoption": 0.40, "engagement": 0.10, "sentiment": 0.05, "outcomes": 0.30, "relationship": 0.15}
SCENARIOS = ("healthy", "slow_start", "stalled", "championless", "ticket_storm", "declining", "churned")
SCRIPT_NAME = "Acme <script>alert(1)</script> Ltd"
A, E, S, O, R = range(5)         # latent dimension index

# Weekly churn hazard: ramp(tenure) * sigmoid(CHURN_BASE + CHURN_SLOPE * (CHURN_CENTRE - H)).
CHURN_BASE = -7.2
CHURN_SLOPE = 16.0
CHURN_CENTRE = 0.62
CHURN_GRACE_WEEKS = 8            # no churn in the first 8 weeks, full hazard from week 16
FADE_RATE = 0.8                  # random decline episodes per account-year
FADE_DEPTH = (0.30, 0.55)        # fall of adoption in an episode
LATENT_MEAN, LATENT_FIT_SD, LATENT_OWN_SD = 0.60, 0.04, 0.09
LATENT_PERSISTENCE = (0.90, 0.90, 0.90, 0.97, 0.97)   # weekly AR(1) coefficient per dimension
LATENT_NOISE_SD = 0.05
DECLINE_SHARE = 0.08             # accounts turned `declining` 8 weeks before the end

# Contracts (docs/sample-world.md, "Contracts"): terms, renewals and add-ons driven by the true
# weighted quality H; the account's ARR, licensed users and modules are the state on its last day.
TERM_YEARS = (1, 2, 3)
TERM_SHARES = ((0.92, 0.08, 0.00), (0.75, 0.17, 0.08), (0.45, 0.25, 0.30))   # per segment, by TERM_YEARS
HOLDOVER_DAYS = 30               # churn within 30 days after a term end: that term runs on to churned_at
QUALITY_CENTRE = 0.60            # H at which the rates below take their base values
EXPANSION_RATE = 0.60            # add-ons per account-year at H = QUALITY_CENTRE ...
EXPANSION_SLOPE = 12.0           # ... x exp(EXPANSION_SLOPE * (H - QUALITY_CENTRE)),
EXPANSION_MAX = 2.5              # ... at most this many a year
EXPANSION_SIZE = (0.10, 0.40)    # licensed users added, as a share of those licensed at the time
ADDON_AFTER_GO_LIVE = 28         # no add-on before go-live + 28 days, ...
ADDON_QUIET_DAYS = (30, 45)      # ... in a term's first 30 or last 45 days (that is the renewal's job)
ADDONS_PER_TERM = 2
UPLIFT = (-0.8, 15.0)            # P(up-priced renewal) = sigmoid(a + b * (H - QUALITY_CENTRE))
UPLIFT_PRICE = (1.03, 1.12)      # price per user x U(lo, hi)
CONTRACTION = (-3.0, 20.0)       # P(contraction) = sigmoid(a + b * (QUALITY_CENTRE - H))
CONTRACTION_USERS = (0.60, 0.90)  # licensed users x U(lo, hi)
ARR_STEP = 10                    # contract ARR is rounded to whole tens

# Random generator streams: one per part of the world, so each part is reproducible on its own.
_ACCOUNTS, _LATENT, _PLAN, _CHURN, _USAGE, _CONTACTS, _TOUCH, _TICKETS, _SURVEYS, _OUTCOMES, \
    _READINESS, _TIME, _ADVOCACY, _OVERRIDES, _NAMES, _CONTRACTS = range(1, 17)


@dataclass(frozen=True)
class Segment:
    """What differs between SMB, Mid-Market and Enterprise accounts."""

    name: str
    share: float                 # share of accounts
    arr: tuple[float, float]     # ARR: lognormal median and sigma
    modules: tuple[int, int]     # contracted modules: inclusive range
    seats: tuple[float, float]   # licensed users: lognormal median and sigma
    window: int                  # onboarding window in days (SPEC section 4)
    steps: tuple[int, ...]       # median days signature -> kickoff -> ... -> handover
    ramp_days: int               # days from go-live to full use
    weekend: float               # weekend activity relative to a weekday
    contacts: int                # contacts named at signature (before relationship extras)
    touches: float               # outbound CSM touches per week
    tickets: float               # support tickets per week


SEGMENTS = (
    Segment("SMB", 0.55, (9_000, 0.5), (1, 6), (14, 0.5), 45, (2, 10, 6, 8, 8, 10),
            21, 0.30, 2, 0.30, 0.10),
    Segment("Mid-Market", 0.30, (45_000, 0.45), (3, 8), (90, 0.5), 60, (5, 18, 10, 10, 8, 12),
            35, 0.40, 4, 0.55, 0.25),
    Segment("Enterprise", 0.15, (220_000, 0.55), (5, 8), (600, 0.6), 90, (8, 26, 12, 16, 10, 14),
            56, 0.55, 7, 0.85, 0.55),
)
STORY_SHARES = {"healthy": 0.54, "slow_start": 0.12, "stalled": 0.09, "championless": 0.13, "ticket_storm": 0.12}
REGIONS = ("EMEA", "North America", "APAC", "LATAM")
REGION_SHARES = (0.38, 0.40, 0.14, 0.08)
# per adoption rank: chance the module is used on an active day, and its share of users
RANK_AFFINITY = np.array([0.99, 0.96, 0.93, 0.90, 0.86, 0.82, 0.78, 0.74])
RANK_USERS = 1.0 / (1.0 + 0.45 * np.arange(8))
MODULE_INTENSITY = np.array([1.4, 1.0, 0.8, 0.6, 1.1, 0.9, 0.5, 2.0])   # actions per user, by module


@dataclass
class World:
    """The simulated world before it is written. Day indexes count from :attr:`start` (day 0).

    Per-account arrays have one entry per account in ``account_id`` order (by signature date).
    ``latent`` holds the five qualities per account and week, shape (accounts, 5, weeks),
    in :data:`DIMENSIONS` order. ``churn`` is :data:`NEVER` for accounts that did not churn.
    """

    start: np.datetime64
    n: int
    account_id: np.ndarray
    name: np.ndarray
    seg: np.ndarray
    csm: np.ndarray
    csm_names: np.ndarray
    region: np.ndarray
    arr: np.ndarray
    seats: np.ndarray
    n_modules: np.ndarray
    modules: np.ndarray            # (n, 8) module index in adoption order, -1 padded
    signed: np.ndarray
    due: np.ndarray                # explicit onboarding_due_at or NEVER
    story: np.ndarray
    latent: np.ndarray = None
    plan: np.ndarray = None        # (n, 6) planned milestone days (NEVER: blocked)
    reached: np.ndarray = None     # (n, 6) reached milestone days (NEVER: not by the end)
    stall_stage: np.ndarray = None
    champion_lost: np.ndarray = None   # week the champion leaves (championless) or NEVER
    storm: np.ndarray = None           # week a ticket storm starts or NEVER
    fade: np.ndarray = None            # (n, 4): start week, length, depth, recovers (or start NEVER)
    decline: np.ndarray = None         # week a final decline starts (declining) or NEVER
    abandon: np.ndarray = None         # (n, 2): days [from, to) the last-adopted module is dropped
    churn: np.ndarray = None
    anchor: int = -1                   # an account forced to use the product on the last day

    @property
    def end(self) -> np.ndarray:
        """Exclusive last day of each account's life: the churn day or the day after the end."""
        return np.minimum(self.churn, DAYS)

    @property
    def scenario(self) -> np.ndarray:
        return np.where(self.churn < NEVER, "churned", self.story)

    def health(self, week: int | np.ndarray | None = None) -> np.ndarray:
        """True weighted quality H = sum of TRUE_WEIGHTS x latent, per account (and week)."""
        w = np.array([TRUE_WEIGHTS[d] for d in DIMENSIONS], dtype=np.float32)
        lat = self.latent if week is None else self.latent[:, :, week]
        return np.tensordot(w, lat, axes=([0], [1])) if week is None else lat @ w


# ================================================================================ public API
#: The sample world's own report texts, written beside its tables as ``report_params.yaml``: the
#: weekly asks and the worked improvement cycle belong to this world's team, not to every source
#: (a report reads them from the data folder; ``params/`` holds neutral defaults).
SAMPLE_REPORT_PARAMS = """\
# Report texts that belong to this data source's team (see docs/report-guide.md): a report on
# this folder reads its section here, over the defaults in params/<report>.yaml; -p wins over both.
weekly:
  asks:
    - "Sales: put the customer's named onboarding owner and target go-live date in every handoff note, so kick-off is booked in week 1."
    - "Product: fix the CSV import timeout that stalls first data loads for Enterprise accounts; three go-lives wait on it."
    - "Account Management: join the recovery calls of red accounts above $100,000 ARR this week."
post_cycle:
  hypothesis: >-
    We believed that a 20-minute call from the CSM on day 25 to every account not yet activated
    would lift activation within 30 days from about 40% to 55%.
  intervention: >-
    For the 14 days from 2 to 15 November, every account reaching its 30-day activation deadline
    without activating got a 20-minute call from its CSM on day 25 to unblock the first workflow.
  metric: activation_rate
  cycle_start: "2026-11-02"
  cycle_end: "2026-11-15"
  next_cycle: >-
    Next we test whether moving the call to day 20 lifts activation for Enterprise accounts, where
    it is lowest.
"""
REPORT_PARAMS_FILE = "report_params.yaml"


def sample_files() -> tuple[str, ...]:
    """The file names :func:`write_sample` writes: ``usage.parquet``, ``<table>.csv`` for the other
    tables and ``report_params.yaml`` (:data:`SAMPLE_REPORT_PARAMS`)."""
    return tuple(f"{name}.parquet" if name == "usage" else f"{name}.csv" for name in BUILD_ORDER) + \
        (REPORT_PARAMS_FILE,)


def write_sample(out: str | Path, accounts: int = 1500, seed: int = 7, end: str = END_DATE,
                 progress: Callable[[str], None] | None = None, *, force: bool = False) -> dict[str, int]:
    """Write all thirteen tables of SPEC section 2 into directory ``out``; return {table: row_count}
    in the data contract's table order.

    ``usage`` is written as ``usage.parquet`` (one row group per 1,000 accounts), the other
    tables as ``<table>.csv`` (:func:`sample_files`). Only these files are written, and nothing
    else in ``out`` is ever removed: every table is first built in a temporary folder inside
    ``out``, then renamed into place, so a failure leaves the previous tables as they were.
    ``out`` may be missing, empty or hold a previous sample's tables (they are replaced); a
    folder that holds other files is refused with :class:`BadInput` unless ``force``, and a file
    giving one of the tables in the other format (say ``usage.csv``) is refused even then, since
    the folder would give that table twice. ``seed`` must be a whole number >= 0.
    ``progress``, if given, is called with one-line progress messages.
    """
    say = progress or (lambda _msg: None)
    seed = _check_seed(seed)
    out = Path(out)
    _check_out(out, force)
    missing = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".workbook-sample-", dir=out))
    done_ok = False
    try:
        say(f"sample: simulating {accounts:,} accounts (seed {seed}, ending {end})")
        world = simulate(accounts, seed, end)
        done: dict[str, Columns] = {}
        counts: dict[str, int] = {}
        for name in BUILD_ORDER:
            if name == "usage":
                counts[name] = _write_usage(world, staging / "usage.parquet", seed, say)
            else:
                done[name] = BUILDERS[name](world, seed, done)
                _write_csv(world, name, done[name], staging / f"{name}.csv")
                counts[name] = len(next(iter(done[name].values())))
            say(f"sample: {name:<13} {counts[name]:>12,} rows")
        (staging / REPORT_PARAMS_FILE).write_text(SAMPLE_REPORT_PARAMS, encoding="utf-8")
        for fname in sample_files():             # the whole set is ready: move it into place
            os.replace(staging / fname, out / fname)
        done_ok = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)   # only the temporary folder made above
        if not done_ok:
            for folder in missing:                   # folders this call created, if still empty
                try:
                    folder.rmdir()
                except OSError:
                    break
    order = [*TABLE_ORDER, *(name for name in BUILD_ORDER if name not in TABLE_ORDER)]
    return {name: counts[name] for name in order if name in counts}


def _check_seed(seed) -> int:
    """``seed`` as an int >= 0 (what numpy's SeedSequence takes), else :class:`BadInput`."""
    try:
        value = operator.index(seed)
    except TypeError:
        value = None
    if value is None or isinstance(seed, bool) or value < 0:
        raise BadInput("--seed", None, f"must be a whole number >= 0, got {seed!r}")
    return value


def _check_out(out: Path, force: bool) -> None:
    """Refuse an output folder that holds anything but a previous sample's tables (unless ``force``)."""
    if not out.exists():
        if out.is_symlink():
            raise BadInput(str(out), None, "is a broken symbolic link: choose another output folder")
        return
    if not out.is_dir():
        raise BadInput(str(out), None, "exists and is not a directory")
    ours = set(sample_files())
    entries = sorted(out.iterdir(), key=lambda p: p.name)
    blocked = [p.name for p in entries if p.name in ours and (p.is_symlink() or not p.is_file())]
    if blocked:
        raise BadInput(str(out), None, f"holds {', '.join(blocked)}, which is not a regular file: the sample will "
                       "not replace it; remove it or choose another folder")
    twins = {p.name: ("usage.parquet" if p.stem == "usage" else f"{p.stem}.csv") for p in entries
             if p.name not in ours and p.stem in BUILD_ORDER and p.suffix in (".csv", ".parquet")}
    if twins:
        raise BadInput(str(out), None, f"holds {', '.join(twins)}: the sample writes {', '.join(twins.values())}, "
                       "so the folder would give the same table twice; move it away or choose another folder")
    # a validation receipt (workspace.RECEIPT_NAME) belongs to the tables: new tables outdate it
    others = [p.name + ("/" if p.is_dir() else "") for p in entries if p.name not in ours
              and p.name != ".workbook-receipt.json"]
    if others and not force:
        shown = ", ".join(others[:8]) + (f" and {len(others) - 8} more" if len(others) > 8 else "")
        raise BadInput(str(out), None, f"is not empty and holds files that are not sample tables ({shown}): "
                       "choose an empty or new folder, or pass --force to write the tables beside them "
                       "(nothing else is ever removed)")


def simulate(accounts: int = 1500, seed: int = 7, end: str = END_DATE) -> World:
    """Simulate the world (accounts, latent qualities, milestones, churn) without writing it."""
    if int(accounts) < 1:
        raise ValueError("accounts must be at least 1")
    if int(seed) < 0:
        raise ValueError("seed must be a non-negative integer")
    world = _accounts(int(accounts), int(seed), end)
    _latent(world, int(seed))
    _plan_milestones(world, int(seed))
    _simulate_churn(world, int(seed))
    _settle(world)
    return world


# ================================================================================ simulation
def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ragged groups of ``counts`` items: each item's group index and position in its group."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - first[owner]


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _accounts(n: int, seed: int, end: str) -> World:
    rng = _rng(seed, _ACCOUNTS)
    start = np.datetime64(end, "D") - (DAYS - 1)
    # signatures spread evenly over the two years
    signed = np.sort(np.floor((DAYS - 2) * rng.random(n)).astype(np.int64))
    seg = rng.choice(3, size=n, p=[s.share for s in SEGMENTS])
    arr = np.empty(n)
    seats = np.empty(n, dtype=np.int64)
    n_mod = np.empty(n, dtype=np.int64)
    for i, s in enumerate(SEGMENTS):
        m = seg == i
        arr[m] = np.round(rng.lognormal(np.log(s.arr[0]), s.arr[1], m.sum()), -2).clip(1_000)
        seats[m] = np.maximum(3, rng.lognormal(np.log(s.seats[0]), s.seats[1], m.sum()).round())
        lo, hi = s.modules
        n_mod[m] = lo + rng.binomial(hi - lo, 0.7, m.sum())
    # contracted modules: always core, then the others in the order the account adopts them
    order = np.argsort(rng.random((n, len(MODULES) - 1)), axis=1) + 1
    modules = np.concatenate([np.zeros((n, 1), dtype=np.int64), order], axis=1)
    modules[np.arange(len(MODULES))[None, :] >= n_mod[:, None]] = -1
    n_csm = max(4, round(n / 75))
    csm = rng.integers(0, n_csm, n)
    region = np.array(REGIONS, dtype=object)[rng.choice(len(REGIONS), size=n, p=REGION_SHARES)]
    window = np.array([s.window for s in SEGMENTS])[seg]
    explicit = rng.random(n) < 0.15
    due = np.where(explicit, signed + np.maximum(14, window + rng.choice([-15, 14, 30, 45], n)), NEVER)
    story = np.array(list(STORY_SHARES), dtype=object)[rng.choice(len(STORY_SHARES), size=n,
                                                                   p=list(STORY_SHARES.values()))]
    names_rng = _rng(seed, _NAMES)
    return World(start=start, n=n, account_id=_ids("A", n, 5), name=_company_names(n, names_rng),
                 seg=seg, csm=csm, csm_names=_people(n_csm, names_rng), region=region, arr=arr,
                 seats=seats, n_modules=n_mod, modules=modules, signed=signed, due=due, story=story)


def _latent(w: World, seed: int) -> None:
    """Five qualities per account and week: base + drift + AR(1) noise + story shifts, in 0.02..0.98."""
    rng = _rng(seed, _LATENT)
    n, weeks = w.n, np.arange(WEEKS)
    sweek = w.signed // 7
    # story events; an account too young for its event is an ordinary (healthy) one
    w.champion_lost = _event_week(rng, w, w.story == "championless", 8, 2)
    w.storm = _event_week(rng, w, w.story == "ticket_storm", 6, 1)
    w.story[(w.story == "championless") & (w.champion_lost >= NEVER)] = "healthy"
    w.story[(w.story == "ticket_storm") & (w.storm >= NEVER)] = "healthy"
    tenure = weeks[None, :] - sweek[:, None]                       # (n, W), negative before signature
    years = np.clip(tenure, 0, None).astype(np.float32) / 52
    fit = rng.standard_normal(n)
    own = rng.standard_normal((n, 5))
    base = LATENT_MEAN + LATENT_FIT_SD * fit[:, None] + LATENT_OWN_SD * own + 0.06 * (w.story == "healthy")[:, None]
    drift = rng.normal(0.0, 0.05, (n, 5))
    lat = np.empty((n, 5, WEEKS), dtype=np.float32)
    phi = np.array(LATENT_PERSISTENCE)
    sigma = LATENT_NOISE_SD * np.sqrt(1 - phi ** 2)            # stationary sd LATENT_NOISE_SD
    e = rng.normal(0.0, LATENT_NOISE_SD, (n, 5))
    for k in range(WEEKS):
        if k:
            e = phi * e + rng.normal(0.0, 1.0, (n, 5)) * sigma
        lat[:, :, k] = base + drift * years[:, k, None] + e
    _story_shifts(w, lat, tenure)
    _fades(w, rng, lat)
    np.clip(lat, 0.02, 0.98, out=lat)
    w.latent = lat


def _story_shifts(w: World, lat: np.ndarray, tenure: np.ndarray) -> None:
    """What each story does to the latent qualities (in place)."""
    weeks = np.arange(WEEKS)
    slow = w.story == "slow_start"
    ease = np.clip(1 - tenure[slow] / 26, 0, 1)
    lat[slow, A] -= 0.20 * ease
    lat[slow, O] -= 0.20 * ease
    lat[slow, S] -= 0.10 * ease
    stalled = w.story == "stalled"
    lat[stalled, O] -= 0.20
    lat[stalled, A] -= 0.05
    lost = w.champion_lost < NEVER
    after = weeks[None, :] >= w.champion_lost[lost, None]
    lat[lost, R] -= 0.35 * after
    lat[lost, E] -= 0.12 * after
    hit = w.storm < NEVER
    decay = np.where(weeks[None, :] >= w.storm[hit, None], 0.5 ** ((weeks[None, :] - w.storm[hit, None]) / 12), 0)
    lat[hit, S] -= 0.35 * decay
    lat[hit, A] -= 0.05 * decay


def _fades(w: World, rng: np.random.Generator, lat: np.ndarray) -> None:
    """At most one random adoption decline episode per account (in place): the main road to churn."""
    n, weeks = w.n, np.arange(WEEKS)
    first, last = w.signed // 7 + 12, WEEKS - 13
    room = np.clip(last - first, 0, None)
    has = (rng.random(n) < 1 - np.exp(-FADE_RATE * room / 52)) & (room > 0)
    fade = np.full((n, 4), NEVER, dtype=np.float64)
    fade[has, 0] = first[has] + np.floor(rng.random(has.sum()) * room[has])
    fade[has, 1] = rng.integers(4, 9, has.sum())
    fade[has, 2] = rng.uniform(*FADE_DEPTH, has.sum())
    fade[has, 3] = rng.random(has.sum()) < 0.5
    lat[has, A] -= _fade_shape(fade[has], weeks)
    lat[has, E] -= _fade_shape(fade[has], weeks) / 3
    w.fade = fade
    # during a fade the last-adopted module is dropped from half-way down until recovery
    w.abandon = np.full((n, 2), NEVER, dtype=np.int64)
    w.abandon[has, 0] = (fade[has, 0] * 7 + np.floor(fade[has, 1] * 3.5)).astype(np.int64)
    w.abandon[has, 1] = np.where(fade[has, 3] > 0, (fade[has, 0] + fade[has, 1] + 12) * 7, NEVER).astype(np.int64)


def _event_week(rng, w: World, who: np.ndarray, after_signing: int, before_end: int) -> np.ndarray:
    """A uniformly drawn week between signature + ``after_signing`` and the end - ``before_end``."""
    first = w.signed // 7 + after_signing
    room = (WEEKS - before_end) - first
    u = rng.random(w.n)
    return np.where(who & (room > 0), first + np.floor(u * np.maximum(room, 0)), NEVER).astype(np.int64)


def _fade_shape(fade: np.ndarray, weeks: np.ndarray) -> np.ndarray:
    """Depth of a decline episode per week: linear fall over its length, then held or recovered."""
    start, length, depth, recovers = (fade[:, i, None] for i in range(4))
    fall = np.clip((weeks[None, :] - start + 1) / length, 0, 1)
    back = np.clip((weeks[None, :] - start - length + 1) / 12, 0, 1) * recovers
    return (depth * fall * (1 - back)).astype(np.float32)


def _plan_milestones(w: World, seed: int) -> None:
    """Planned milestone days: segment medians x account speed x noise; time to value from outcomes."""
    rng = _rng(seed, _PLAN)
    n = w.n
    steps = np.array([s.steps for s in SEGMENTS], dtype=np.float64)[w.seg]
    speed = rng.lognormal(0.0, 0.25, n) * np.where(w.story == "slow_start", 2.2, 1.0)
    inc = steps * rng.lognormal(0.0, 0.35, (n, 6)) * speed[:, None]
    before_value = w.signed + inc[:, :3].sum(axis=1)
    q_out = w.latent[np.arange(n), O, np.clip(before_value // 7, 0, WEEKS - 1).astype(np.int64)]
    inc[:, 3] *= 0.6 + 1.2 * (1 - q_out)                     # lower outcomes quality: slower first value
    inc = np.maximum(np.round(inc), 1)
    inc[:, 0] -= 1                                            # kickoff may be on the day of signature
    plan = w.signed[:, None] + np.cumsum(inc, axis=1).astype(np.int64)
    never_value = q_out < 0.25                                # no first value, no completion
    plan[never_value, 3:] = NEVER
    stall = np.full(n, NEVER, dtype=np.int64)
    stalled = w.story == "stalled"
    stall[stalled] = rng.choice([1, 2, 3, 4], size=stalled.sum(), p=[0.25, 0.25, 0.30, 0.20])
    plan[np.arange(6)[None, :] >= stall[:, None]] = NEVER
    w.plan, w.stall_stage = plan, stall


def _simulate_churn(w: World, seed: int) -> None:
    """Weekly churn draws from the true hazard; `declining` accounts are chosen 8 weeks before the end."""
    rng = _rng(seed, _CHURN)
    n = w.n
    sweek = w.signed // 7
    churn = np.full(n, NEVER, dtype=np.int64)
    weights = np.array([TRUE_WEIGHTS[d] for d in DIMENSIONS], dtype=np.float32)
    w.decline = np.full(n, NEVER, dtype=np.int64)
    for week in range(WEEKS):
        if week == WEEKS - 8:
            _start_declines(w, rng, churn)
        u, day = rng.random(n), week * 7 + rng.integers(0, 7, n)
        tenure = week - sweek
        ramp = np.clip((tenure - CHURN_GRACE_WEEKS) / CHURN_GRACE_WEEKS, 0, 1)
        health = w.latent[:, :, week] @ weights
        hazard = ramp * _sigmoid(CHURN_BASE + CHURN_SLOPE * (CHURN_CENTRE - health))
        hit = (churn == NEVER) & (u < hazard)
        churn[hit] = np.clip(np.maximum(day[hit], w.signed[hit] + 1), 0, DAYS - 1)
    w.churn = churn


def _start_declines(w: World, rng, churn: np.ndarray) -> None:
    """Turn ~8% of accounts (healthy, alive, signed 6+ months ago, 3+ modules, 12+ seats) into `declining`."""
    cand = np.flatnonzero((churn == NEVER) & (w.story == "healthy") & (w.signed // 7 <= WEEKS - 26)
                          & (w.plan[:, 1] < DAYS - 26 * 7) & (w.n_modules >= 3) & (w.seats >= 12)
                          & (w.fade[:, 0] >= NEVER))
    k = min(len(cand), round(DECLINE_SHARE * w.n))
    pick = np.sort(rng.choice(cand, size=k, replace=False)) if k else cand[:0]
    length = rng.integers(5, 9, k)
    depth = rng.uniform(0.40, 0.55, k)
    weeks = np.arange(WEEKS)
    start = WEEKS - length
    fall = np.clip((weeks[None, :] - start[:, None] + 1) / length[:, None], 0, 1) * depth[:, None]
    w.latent[pick, A] = np.clip(w.latent[pick, A] - fall, 0.02, 0.98)
    w.latent[pick, E] = np.clip(w.latent[pick, E] - fall / 3, 0.02, 0.98)
    w.story[pick] = "declining"
    w.decline[pick] = start
    lo = np.maximum(start * 7, DAYS - 49)
    w.abandon[pick, 0] = lo + np.floor(rng.random(k) * (DAYS - 28 - lo)).astype(np.int64)


def _settle(w: World) -> None:
    """Milestones reached by the end and before churn; the account that is active on the last day."""
    w.reached = np.where((w.plan < w.end[:, None]) & (w.plan < DAYS), w.plan, NEVER)
    alive = np.flatnonzero((w.churn == NEVER) & (_usage_start(w) < DAYS))
    if alive.size == 0:                      # only in tiny worlds: keep the oldest account alive
        w.churn[0] = NEVER
        w.reached[0] = np.where(w.plan[0] < DAYS, w.plan[0], NEVER)
        alive = np.array([0])                # its usage is made to reach the last day
    w.anchor = int(alive[np.argmax(w.seats[alive])])


def _usage_start(w: World) -> np.ndarray:
    """First day of use: a sandbox from three days after kickoff (go-live turns it into real use)."""
    return np.minimum(w.plan[:, 0] + 3, NEVER)


# ================================================================================ writing
Columns = dict[str, np.ndarray]
# date columns of a table the data contract (workbook.contract) does not describe yet
_DATE_COLUMNS = {"contracts": {"starts_at": "date", "ends_at": "date"}}


def _write_csv(w: World, name: str, cols: Columns, path: Path) -> None:
    """Write a table: day indexes become ISO dates, 1/0/-1 flags true/false/empty; `_` columns stay out."""
    known = {c.name: c.kind for c in CONTRACT[name].columns} if name in CONTRACT else _DATE_COLUMNS.get(name, {})
    data = {}
    for col, values in cols.items():
        if col.startswith("_"):
            continue
        kind = known.get(col, "str")
        data[col] = _dates(w, values) if kind == "date" else _bools(values) if kind == "bool" else values
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame(data).to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    os.replace(tmp, path)


def _dates(w: World, days: np.ndarray) -> np.ndarray:
    """ISO strings for day indexes; NEVER becomes an empty cell."""
    days = np.asarray(days, dtype=np.int64)
    missing = days >= NEVER
    text = np.datetime_as_string(w.start + np.where(missing, 0, days).astype("timedelta64[D]"), unit="D")
    return np.where(missing, "", text).astype(object)


def _bools(flags: np.ndarray) -> np.ndarray:
    """1 -> true, 0 -> false, -1 -> empty."""
    return np.array(["", "false", "true"], dtype=object)[np.asarray(flags, dtype=np.int64) + 1]


def _write_usage(w: World, path: Path, seed: int, say) -> int:
    schema = pa.schema([("account_id", pa.string()), ("date", pa.date32()), ("module", pa.string()),
                        ("active_users", pa.int32()), ("actions", pa.int32())])
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    chunks = -(-w.n // CHUNK_ACCOUNTS)
    with pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=["account_id", "module"],
                          write_statistics=True, store_schema=False) as writer:
        for c in range(chunks):
            accts = np.arange(c * CHUNK_ACCOUNTS, min(w.n, (c + 1) * CHUNK_ACCOUNTS))
            table = _usage_chunk(w, accts, _rng(seed, _USAGE, c), schema)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += table.num_rows
            if chunks > 1 and ((c + 1) % 10 == 0 or c + 1 == chunks):
                say(f"sample: usage {rows:,} rows ({c + 1}/{chunks} chunks)")
    os.replace(tmp, path)
    return rows


def _weekday(start: np.datetime64) -> int:
    """Weekday of day 0, Monday = 0."""
    return int((start - np.datetime64("1970-01-05", "D")).astype(np.int64) % 7)


def _usage_chunk(w: World, accts: np.ndarray, rng: np.random.Generator, schema: pa.Schema) -> pa.Table:
    """Daily module usage of accounts ``accts``: one row per (account, day, module) with use."""
    seg = w.seg[accts]
    first = np.minimum(_usage_start(w)[accts], DAYS)
    first[accts == w.anchor] = np.minimum(first[accts == w.anchor], DAYS - 1)
    acc, pos = _expand(np.maximum(w.end[accts] - first, 0))
    day = first[acc] + pos
    # adoption quality, linearly interpolated between the weekly values
    qa_weeks = w.latent[accts, A].astype(np.float64)
    wk = day // 7
    nxt = np.minimum(wk + 1, WEEKS - 1)
    qa = qa_weeks[acc, wk] + (qa_weeks[acc, nxt] - qa_weeks[acc, wk]) * (day % 7) / 7
    seats = w.seats[accts][acc].astype(np.float64)
    m = w.n_modules[accts][acc]
    live = w.plan[accts, 1][acc]
    sandbox = day < live
    ramp_days = np.array([s.ramp_days for s in SEGMENTS])[seg][acc]
    ramp = np.where(sandbox, 0.15, np.clip((day - live + 1) / ramp_days, 0.1, 1.0))
    weekend = (day + _weekday(w.start)) % 7 >= 5
    weekend_factor = np.where(weekend, np.array([s.weekend for s in SEGMENTS])[seg][acc], 1.0)
    # breadth: how many contracted modules (in adoption order) are in use
    breadth = np.clip(np.ceil(m * ramp * (0.45 + 0.85 * qa)), 1, m)
    breadth = np.where(sandbox, 1, breadth)
    dropped = (day >= w.abandon[accts, 0][acc]) & (day < w.abandon[accts, 1][acc])
    breadth = np.where(dropped, np.maximum(1, breadth - 1), breadth)
    # frequency: is the account active at all today
    reach = 1 - np.exp(-seats / 5)
    p_day = np.clip(reach * (0.25 + 0.95 * qa), 0, 0.99) * weekend_factor * np.where(sandbox, 0.4, 1.0)
    active = rng.random(acc.size) < p_day
    anchor_day = (accts[acc] == w.anchor) & (day == DAYS - 1)
    active |= anchor_day
    keep = np.flatnonzero(active)
    # expand active account-days to the modules in use; keep those used today
    row, rank = _expand(breadth[keep].astype(np.int64))
    src = keep[row]
    p_mod = RANK_AFFINITY[rank] * np.minimum(1, 0.75 + 0.30 * qa[src])
    used = (rng.random(src.size) < p_mod) | (anchor_day[src] & (rank == 0))
    src, rank = src[used], rank[used]
    q = qa[src]
    # stakeholders (active users) and depth (actions per user)
    users_mean = seats[src] * (0.04 + 0.40 * q) * RANK_USERS[rank] * np.where(weekend[src], 0.35, 1.0) \
        * ramp[src] * rng.lognormal(0.0, 0.12, src.size)
    users = np.maximum(1, rng.poisson(users_mean))
    module = w.modules[accts[acc[src]], rank]
    per_user = (1.5 + 10.0 * q) * MODULE_INTENSITY[module] * rng.lognormal(0.0, 0.35, src.size)
    actions = rng.poisson(users * per_user)
    actions[rng.random(src.size) < 0.01] = 0                      # logged in, did nothing
    epoch = int((w.start - np.datetime64("1970-01-01", "D")).astype(np.int64))
    return pa.Table.from_arrays([
        pa.DictionaryArray.from_arrays(pa.array(acc[src].astype(np.int32)),
                                       pa.array(w.account_id[accts].astype(str))).cast(pa.string()),
        pa.array((epoch + day[src]).astype(np.int32)).cast(pa.date32()),
        pa.DictionaryArray.from_arrays(pa.array(module.astype(np.int32)), pa.array(MODULES)).cast(pa.string()),
        pa.array(users.astype(np.int32)),
        pa.array(np.minimum(actions, np.iinfo(np.int32).max).astype(np.int32)),
    ], schema=schema)


# ================================================================================ small tables
def _accounts_table(w: World, seed: int, done: dict) -> Columns:
    return {
        "account_id": w.account_id,
        "name": w.name,
        "segment": np.array([s.name for s in SEGMENTS], dtype=object)[w.seg],
        "csm": w.csm_names[w.csm],
        "arr": w.arr.astype(np.int64),
        "contracted_modules": w.n_modules,
        "signed_at": w.signed,
        "churned_at": w.churn,
        "region": w.region,
        "onboarding_due_at": w.due,
        "scenario": w.scenario.astype(object),
    }


def _milestones_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _PLAN, 1)
    acc, stage = np.nonzero(w.reached < NEVER)
    day = w.reached[acc, stage]
    # data gaps: an intermediate milestone missing although a later one is recorded
    later = (w.reached[acc] < NEVER) & (np.arange(6)[None, :] > stage[:, None])
    gap = (stage >= 1) & (stage <= 4) & later.any(axis=1) & (rng.random(acc.size) < 0.03)
    acc, stage, day = acc[~gap], stage[~gap], day[~gap]
    # a handful of repeated (account, milestone) pairs, recorded later again (the earliest counts)
    k = min(4, acc.size)
    dup = np.sort(rng.choice(acc.size, size=k, replace=False))
    acc = np.concatenate([acc, acc[dup]])
    stage = np.concatenate([stage, stage[dup]])
    day = np.concatenate([day, np.minimum(day[dup] + rng.integers(1, 15, k), DAYS - 1)])
    order = np.lexsort((day, stage, acc))
    return {"account_id": w.account_id[acc[order]],
            "milestone": np.array(MILESTONES, dtype=object)[stage[order]],
            "reached_at": day[order], "_acc": acc[order], "_stage": stage[order]}


def _alive_weeks(w: World, from_day: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(account, week) for every week an account is signed (and past ``from_day``) and not churned."""
    first = (w.signed if from_day is None else np.maximum(w.signed, np.minimum(from_day, DAYS))) // 7
    last = (w.end - 1) // 7
    acc, pos = _expand(np.maximum(last - first + 1, 0))
    return acc, first[acc] + pos


def _day_in_week(rng, week: np.ndarray) -> np.ndarray:
    """A day in each week; working days far likelier than weekends."""
    return week * 7 + rng.choice(7, size=week.size, p=[0.21, 0.22, 0.22, 0.20, 0.11, 0.02, 0.02])


def _replacement_champions(rng, w: World, acc, role, left) -> tuple[np.ndarray, np.ndarray]:
    """Accounts and start days of the champions who replace those who left (never in
    `championless` accounts): likelier and sooner with a strong relationship."""
    lat_r = w.latent[:, R]
    gone = np.flatnonzero((role == "champion") & (left < NEVER) & (w.story[acc] != "championless"))
    q_gone = lat_r[acc[gone], np.clip(left[gone] // 7, 0, WEEKS - 1)]
    again = rng.random(gone.size) < 0.4 + 0.5 * q_gone
    gone, q_gone = gone[again], q_gone[again]
    acc2 = acc[gone]
    start2 = left[gone] + np.ceil(rng.exponential(7 * (4 + 16 * (1 - q_gone)))).astype(np.int64)
    ok = start2 < w.end[acc2]
    return acc2[ok], start2[ok]


def _contacts_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _CONTACTS)
    n = w.n
    lat_r = w.latent[:, R]
    sweek = w.signed // 7
    q0 = lat_r[np.arange(n), sweek]
    # named at signature: champion, decision maker, business owner(s), users
    k0 = np.maximum(2, np.array([s.contacts for s in SEGMENTS])[w.seg] + rng.poisson(1.5 * q0 * (1 + w.seg)))
    acc0, idx0 = _expand(k0)
    role0 = np.select([idx0 == 0, idx0 == 1, (idx0 == 2) | ((idx0 == 3) & (w.seg[acc0] == 2))],
                      ["champion", "decision_maker", "business_owner"], "user").astype(object)
    p_sponsor = np.clip(0.15 + 0.6 * q0 + 0.1 * (w.seg == 2), 0, 0.95)
    sponsor0 = (idx0 == 1) & (rng.random(acc0.size) < p_sponsor[acc0])
    start0 = w.signed[acc0]
    # arrivals while the account is alive, likelier with a strong relationship
    acc1, week1 = _alive_weeks(w)
    p_arrive = 0.05 * lat_r[acc1, week1] ** 2 * (1 + w.seg[acc1])
    arrive = (rng.random(acc1.size) < p_arrive) & (week1 > sweek[acc1])
    acc1, week1 = acc1[arrive], week1[arrive]
    role1 = np.array(["user", "business_owner", "decision_maker", "champion"], dtype=object)[
        rng.choice(4, size=acc1.size, p=[0.70, 0.18, 0.10, 0.02])]
    role1[(role1 == "champion") & (w.story[acc1] == "championless")] = "user"
    sponsor1 = (role1 == "decision_maker") & (rng.random(acc1.size) < 0.3 * lat_r[acc1, week1])
    start1 = np.minimum(_day_in_week(rng, week1), w.end[acc1] - 1)
    acc = np.concatenate([acc0, acc1])
    role = np.concatenate([role0, role1])
    sponsor = np.concatenate([sponsor0, sponsor1])
    start = np.concatenate([start0, start1])
    cum = np.cumsum(0.002 + 0.08 * (1 - lat_r.astype(np.float64)) ** 3, axis=1)
    left = _leave_days(rng, acc, start, cum)
    # the initial champion of a `championless` account leaves in the week the story says
    lost = (np.arange(acc.size) < acc0.size) & (role == "champion") & (w.champion_lost[acc] < NEVER)
    left[lost] = np.maximum(start[lost] + 1, w.champion_lost[acc[lost]] * 7 + rng.integers(0, 5, lost.sum()))
    acc2, start2 = _replacement_champions(rng, w, acc, role, left)
    acc = np.concatenate([acc, acc2])
    role = np.concatenate([role, np.full(acc2.size, "champion", dtype=object)])
    sponsor = np.concatenate([sponsor, np.zeros(acc2.size, dtype=bool)])
    start = np.concatenate([start, start2])
    left = np.concatenate([left, _leave_days(rng, acc2, start2, cum)])
    left = np.where(left < w.end[acc], left, NEVER)               # after churn the CRM goes quiet
    order = np.lexsort((np.arange(acc.size), start, acc))
    acc, role, sponsor, start, left = acc[order], role[order], sponsor[order], start[order], left[order]
    no_start = rng.random(acc.size) < 0.03                        # imported without a start date
    return {
        "contact_id": _ids("C", acc.size, 6),
        "account_id": w.account_id[acc],
        "role": role,
        "is_executive_sponsor": sponsor.astype(np.int64),
        "name": _people(acc.size, rng, unique=False),
        "started_at": np.where(no_start, NEVER, start),
        "left_at": left,
        "_acc": acc, "_start": start,
    }


def _leave_days(rng, acc: np.ndarray, start: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Day each contact leaves (NEVER if not within the world), inverting the cumulative weekly hazard."""
    if acc.size == 0:
        return np.zeros(0, dtype=np.int64)
    sweek = np.clip(start // 7, 0, WEEKS - 1)
    before = np.where(sweek > 0, cum[acc, np.maximum(sweek - 1, 0)], 0.0)
    target = before + rng.exponential(1.0, acc.size)
    span = cum[:, -1].max() + 1.0
    flat = (cum + span * np.arange(cum.shape[0])[:, None]).ravel()
    week = np.searchsorted(flat, target + span * acc) - acc * WEEKS
    day = week * 7 + rng.integers(0, 7, acc.size)
    return np.where(week < WEEKS, np.maximum(day, start + 1), NEVER)


def _touchpoints_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _TOUCH)
    acc, week = _alive_weeks(w)
    q_e = w.latent[acc, E, week]
    touches = np.array([s.touches for s in SEGMENTS])[w.seg[acc]]
    onboarding = week * 7 < np.minimum(w.plan[acc, 5], DAYS)
    n_out = rng.poisson(touches * np.where(onboarding, 1.6, 1.0))
    n_in = rng.poisson(touches * 0.6 * q_e)
    src, pos = _expand(n_out + n_in)
    k = src.size
    inbound = pos >= n_out[src]
    day = _day_in_week(rng, week[src])
    p_out = np.where(onboarding[src, None], [[0.35, 0.15, 0.20, 0.05, 0.25]], [[0.42, 0.20, 0.20, 0.08, 0.10]])
    kind = np.minimum((rng.random(k)[:, None] > np.cumsum(p_out, axis=1)).sum(axis=1), 4)
    kind = np.where(inbound, rng.choice(3, size=k, p=[0.60, 0.25, 0.15]), kind)
    qe = q_e[src]
    scheduled = kind >= 2                                          # meeting, review, training
    attended = scheduled & np.where(inbound, rng.random(k) < 0.92, rng.random(k) < _sigmoid(10.0 * (qe - 0.45)))
    responded = (rng.random(k) < _sigmoid(10.0 * (qe - 0.5))) | attended
    a = acc[src]
    ok = (day >= w.signed[a]) & (day < w.end[a])
    order = np.lexsort((np.arange(k), day, a))
    order = order[ok[order]]
    return {
        "account_id": w.account_id[a[order]],
        "date": day[order],
        "kind": np.array(["email", "call", "meeting", "review", "training"], dtype=object)[kind[order]],
        "direction": np.where(inbound[order], "inbound", "outbound").astype(object),
        "responded": np.where(inbound[order], -1, responded[order]),
        "attended": np.where(scheduled[order], attended[order], -1),
        "_acc": a[order],
    }


def _tickets_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _TICKETS)
    acc, week = _alive_weeks(w, w.plan[:, 0])
    q_a = w.latent[acc, A, week]
    rate = np.array([s.tickets for s in SEGMENTS])[w.seg[acc]] * (1.5 - 0.8 * q_a) \
        * np.where(week * 7 < w.plan[acc, 1], 0.5, 1.0)
    src, _ = _expand(rng.poisson(rate))
    b_acc, b_day = acc[src], _day_in_week(rng, week[src])
    # ticket storms: 12-30 tickets within two and a half weeks, many urgent and escalated
    stormy = np.flatnonzero((w.storm < NEVER) & (w.storm * 7 < w.end))
    s_src, _ = _expand(rng.poisson(rng.uniform(12, 30, stormy.size)))
    s_acc = stormy[s_src]
    s_day = w.storm[s_acc] * 7 + rng.integers(0, 18, s_src.size)
    acc = np.concatenate([b_acc, s_acc])
    day = np.concatenate([b_day, s_day])
    storm = np.concatenate([np.zeros(b_acc.size, bool), np.ones(s_acc.size, bool)])
    k = acc.size
    prio = np.where(storm, rng.choice(4, size=k, p=[0.05, 0.25, 0.40, 0.30]),
                    rng.choice(4, size=k, p=[0.30, 0.50, 0.15, 0.05]))
    escalated = rng.random(k) < np.where(storm, 0.35, 0.02 + 0.15 * (prio == 3))
    fix = np.ceil(rng.gamma(1.3, np.array([8.0, 5.0, 2.5, 1.0])[prio]) * np.where(storm, 2, 1)).astype(np.int64)
    resolved = np.where((day + fix < DAYS) & (rng.random(k) > 0.01), day + fix, NEVER)
    ok = (day >= w.signed[acc]) & (day < w.end[acc])
    order = np.lexsort((np.arange(k), acc, day))
    order = order[ok[order]]
    return {
        "ticket_id": _ids("T", order.size, 6),
        "account_id": w.account_id[acc[order]],
        "opened_at": day[order],
        "resolved_at": resolved[order],
        "priority": np.array(["low", "normal", "high", "urgent"], dtype=object)[prio[order]],
        "escalated": escalated[order].astype(np.int64),
        "_acc": acc[order],
    }


def _surveys_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _SURVEYS)
    parts: list[tuple[str, np.ndarray, np.ndarray]] = []                 # kind, account, day
    # relationship NPS: quarterly waves; engaged accounts answer more
    waves = np.arange(45, DAYS - 14, 91)
    acc, wave = np.divmod(np.arange(w.n * waves.size), waves.size)
    wday = waves[wave]
    ok = (w.signed[acc] + 60 <= wday) & (wday < w.end[acc])
    acc, wday = acc[ok], wday[ok]
    q_e = w.latent[acc, E, wday // 7]
    src, _ = _expand(rng.poisson(0.6 * (0.5 + q_e) * np.array([1.0, 1.6, 2.5])[w.seg[acc]]))
    parts.append(("nps", acc[src], wday[src] + rng.integers(0, 15, src.size)))
    # onboarding NPS shortly after onboarding_complete
    ms = done["milestones"]
    oc = np.flatnonzero(ms["_stage"] == 4)
    oc = oc[np.r_[True, ms["_acc"][oc][1:] != ms["_acc"][oc][:-1]]]          # first record per account
    yes = oc[rng.random(oc.size) < 0.65]
    parts.append(("onboarding_nps", ms["_acc"][yes], ms["reached_at"][yes] + rng.integers(1, 15, yes.size)))
    # CSAT and CES after resolved tickets; CES after attended trainings
    t = done["tickets"]
    fixed = t["resolved_at"] < NEVER
    for kind, share in (("csat", 0.35), ("ces", 0.20)):
        pick = np.flatnonzero(fixed & (rng.random(fixed.size) < share))
        parts.append((kind, t["_acc"][pick], t["resolved_at"][pick] + rng.integers(0, 4, pick.size)))
    tp = done["touchpoints"]
    pick = np.flatnonzero((tp["kind"] == "training") & (tp["attended"] == 1) & (rng.random(tp["date"].size) < 0.3))
    parts.append(("ces", tp["_acc"][pick], tp["date"][pick] + rng.integers(0, 4, pick.size)))
    kind = np.concatenate([np.full(p[1].size, p[0], dtype=object) for p in parts])
    acc = np.concatenate([p[1] for p in parts]).astype(np.int64)
    day = np.concatenate([p[2] for p in parts]).astype(np.int64)
    ok = day < w.end[acc]
    kind, acc, day = kind[ok], acc[ok], day[ok]
    q_s = w.latent[acc, S, day // 7].astype(np.float64)
    noise = rng.standard_normal(acc.size)
    # every kind maps to 0.3 + 0.8 x sentiment on its own scale, so the mix of kinds carries no bias
    score = np.select(
        [np.isin(kind, ["nps", "onboarding_nps"]), kind == "csat"],
        [np.clip(np.rint(3.0 + 8.0 * q_s + 1.3 * noise), 0, 10),
         np.clip(np.rint(2.2 + 3.2 * q_s + 0.5 * noise), 1, 5)],
        np.clip(np.rint(2.8 + 4.8 * q_s + 0.8 * noise), 1, 7)).astype(np.int64)
    contact = _respondent(rng, done["contacts"], kind, acc, day)
    comment = _comments(rng, kind, score)
    order = np.lexsort((np.arange(acc.size), acc, day))
    return {
        "response_id": _ids("R", acc.size, 6),
        "account_id": w.account_id[acc[order]],
        "kind": kind[order],
        "score": score[order],
        "responded_at": day[order],
        "contact_id": contact[order],
        "comment": comment[order],
    }


def _respondent(rng, contacts: Columns, kind: np.ndarray, acc: np.ndarray, day: np.ndarray) -> np.ndarray:
    """A contact active on the day (onboarding NPS: the first contact, the champion), else empty."""
    c_acc = contacts["_acc"]
    n = int(acc.max(initial=0)) + 1
    first = np.searchsorted(c_acc, np.arange(max(n, 1)))
    count = np.bincount(c_acc, minlength=n)[:n]
    pick = first[acc] + np.floor(rng.random(acc.size) * np.maximum(count[acc], 1)).astype(np.int64)
    pick = np.where(kind == "onboarding_nps", first[acc], pick)
    pick = np.minimum(pick, c_acc.size - 1)
    active = (count[acc] > 0) & (c_acc[pick] == acc) & (contacts["_start"][pick] <= day) \
        & (contacts["left_at"][pick] > day)
    return np.where(active, contacts["contact_id"][pick], "").astype(object)


def _comments(rng, kind: np.ndarray, score: np.ndarray) -> np.ndarray:
    """About a third of responses carry a comment matching their score band."""
    nps = np.isin(kind, ["nps", "onboarding_nps"])
    band = np.select([nps & (score >= 9), nps & (score >= 7), nps,
                      (kind == "csat") & (score >= 4), (kind == "csat") & (score == 3), kind == "csat",
                      score >= 6, score >= 4], [2, 1, 0, 2, 1, 0, 2, 1], 0)
    out = np.full(kind.size, "", dtype=object)
    say = rng.random(kind.size) < 0.3
    pick = rng.random(kind.size)
    for b, bank in enumerate((COMMENTS_NEGATIVE, COMMENTS_NEUTRAL, COMMENTS_POSITIVE)):
        m = say & (band == b)
        out[m] = np.array(bank, dtype=object)[(pick[m] * len(bank)).astype(np.int64)]
    return out


def _outcomes_table(w: World, seed: int, done: dict) -> Columns:
    """Outcomes stated at signature (1-2) and two more at each quarterly review while alive."""
    rng = _rng(seed, _OUTCOMES)
    first = np.where(w.seg == 0, 1, 2)
    reviews = np.clip((w.end - w.signed - 30) // 91 + 1, 0, None)
    k = np.minimum(first + 2 * reviews, len(OUTCOMES))
    acc, pos = _expand(k)
    chosen = np.argsort(rng.random((w.n, len(OUTCOMES))), axis=1)[acc, pos]
    review = (pos - first[acc]) // 2
    stated = w.signed[acc] + np.where(pos < first[acc], 0, 30 + 91 * review)
    horizon = np.where(pos < first[acc], rng.uniform(60, 150, acc.size) * np.array([1.0, 1.3, 1.6])[w.seg[acc]],
                       rng.uniform(90, 150, acc.size))
    due = stated + np.round(horizon).astype(np.int64)
    q_o = w.latent[acc, O, np.clip(due // 7, 0, WEEKS - 1)]
    p = _sigmoid(12.0 * (q_o - 0.55)) * np.where(w.plan[acc, 3] >= NEVER, 0.25, 1.0)
    when = np.maximum(due + np.rint(rng.normal(-20, 15, acc.size)).astype(np.int64), stated + 14)
    achieved = np.where((rng.random(acc.size) < p) & (when < w.end[acc]), when, NEVER)
    order = np.lexsort((pos, due, acc))
    return {"account_id": w.account_id[acc[order]], "outcome": np.array(OUTCOMES, dtype=object)[chosen[order]],
            "due_at": due[order], "achieved_at": achieved[order]}


def _readiness_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _READINESS)
    lo, hi = np.array([3, 4, 6])[w.seg], np.array([5, 7, 9])[w.seg]
    k = np.where(rng.random(w.n) < 0.92, lo + np.floor(rng.random(w.n) * (hi - lo + 1)).astype(np.int64), 0)
    acc, pos = _expand(k)
    item = np.argsort(rng.random((w.n, len(READINESS_ITEMS))), axis=1)[acc, pos]
    kickoff = w.plan[acc, 0]
    handover = np.where(w.plan[acc, 5] < NEVER, w.plan[acc, 5],
                        w.signed[acc] + np.array([s.window for s in SEGMENTS])[w.seg[acc]])
    p_before = 0.40 + 0.55 * w.latent[acc, A, np.clip(handover // 7, 0, WEEKS - 1)]
    u = rng.random(acc.size)
    before = kickoff + np.floor(rng.random(acc.size) * np.maximum(handover - kickoff, 1)).astype(np.int64)
    after = handover + np.ceil(rng.exponential(25.0, acc.size)).astype(np.int64)
    day = np.where(u < p_before, before, np.where(u < p_before + 0.6 * (1 - p_before), after, NEVER))
    day = np.where(day < w.end[acc], day, NEVER)
    weights = np.array([wt for _, wt in READINESS_ITEMS], dtype=np.float64)
    return {"account_id": w.account_id[acc],
            "item": np.array([name for name, _ in READINESS_ITEMS], dtype=object)[item],
            "completed_at": day, "weight": weights[item]}


def _time_entries_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _TIME)
    n_csm = w.csm_names.size
    hired = np.where(rng.random(n_csm) < 0.8, 0, np.floor(rng.random(n_csm) * (DAYS - 180)).astype(np.int64))
    p_customer = rng.uniform(0.68, 0.84, n_csm)
    csm, day = np.divmod(np.arange(n_csm * DAYS), DAYS)
    weekend = (day + _weekday(w.start)) % 7 >= 5
    works = (day >= hired[csm]) & np.where(weekend, rng.random(csm.size) < 0.03, rng.random(csm.size) > 0.05)
    csm, day = csm[works], day[works]
    src, _ = _expand(rng.integers(2, 6, csm.size))
    hours = rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0], size=src.size, p=[0.15, 0.25, 0.15, 0.18, 0.10, 0.10, 0.07])
    return {"csm": w.csm_names[csm[src]], "date": day[src], "hours": hours,
            "customer_work": (rng.random(src.size) < p_customer[csm[src]]).astype(np.int64)}


def _advocacy_table(w: World, seed: int, done: dict) -> Columns:
    rng = _rng(seed, _ADVOCACY)
    acc, week = _alive_weeks(w, w.reached[:, 3])
    health = w.latent[acc, :, week] @ np.array([TRUE_WEIGHTS[d] for d in DIMENSIONS], dtype=np.float32)
    rate = np.minimum(0.06, 0.01 * np.exp(10.0 * (health - 0.72)))
    hit = np.flatnonzero(rng.random(acc.size) < rate)
    day = _day_in_week(rng, week[hit])
    acc = acc[hit]
    ok = (day < w.end[acc]) & (day >= w.reached[acc, 3])
    acc, day = acc[ok], day[ok]
    kind = np.array(["reference", "review", "case_study", "referral"], dtype=object)[
        rng.choice(4, size=acc.size, p=[0.40, 0.30, 0.10, 0.20])]
    order = np.lexsort((acc, day))
    return {"account_id": w.account_id[acc[order]], "date": day[order], "kind": kind[order]}


def _overrides_table(w: World, seed: int, done: dict) -> Columns:
    """10-20 documented overrides on live accounts: red on the weakest, green on the strongest."""
    rng = _rng(seed, _OVERRIDES)
    alive = np.flatnonzero((w.churn == NEVER) & (w.signed < DAYS - 30))
    if alive.size == 0:
        alive = np.flatnonzero(w.churn == NEVER)
    k = min(alive.size, max(10, min(20, round(w.n / 100))))
    health = w.health(WEEKS - 1)[alive]
    ranked = alive[np.argsort(health, kind="stable")]
    n_red, n_green = round(0.4 * k), round(0.35 * k)
    n_amber = k - n_red - n_green
    third = max(1, ranked.size // 3)
    red = rng.permutation(ranked[:third])[:n_red]
    green = rng.permutation(ranked[-third:])[:n_green]
    middle = np.setdiff1d(ranked, np.concatenate([red, green]))
    amber = rng.permutation(middle)[:n_amber]
    acc = np.concatenate([red, amber, green])
    colour = np.array(["red"] * red.size + ["amber"] * amber.size + ["green"] * green.size, dtype=object)
    set_at = np.maximum(w.signed[acc] + 1, DAYS - 1 - rng.integers(0, 121, acc.size))
    expires = np.where(rng.random(acc.size) < 0.5, NEVER, set_at + rng.choice([30, 60, 90], acc.size))
    if red.size:                                   # an older override, superseded by the newer red one
        acc = np.append(acc, red[0])
        colour = np.append(colour, "amber")
        set_at = np.append(set_at, max(w.signed[red[0]] + 1, set_at[0] - 60))
        expires = np.append(expires, NEVER)
        if set_at[-1] >= set_at[0]:                # too young for two: drop the older one again
            acc, colour, set_at, expires = acc[:-1], colour[:-1], set_at[:-1], expires[:-1]
    reason = np.empty(acc.size, dtype=object)
    for c, bank in OVERRIDE_REASONS.items():
        m = colour == c
        reason[m] = np.array(bank, dtype=object)[rng.integers(0, len(bank), m.sum())]
    author = np.where(rng.random(acc.size) < 0.7, w.csm_names[w.csm[acc]], "Head of Customer Success").astype(object)
    order = np.lexsort((np.arange(acc.size), set_at, acc))
    return {"account_id": w.account_id[acc[order]], "colour": colour[order], "reason": reason[order],
            "author": author[order], "set_at": set_at[order], "expires_at": expires[order]}


# ================================================================================ contracts
def _contracts_table(w: World, seed: int, done: dict) -> Columns:
    """Base contracts (``new``, then ``renewal`` or ``contraction`` at each term end) and mid-term
    add-ons (``expansion``, ending with their base term), built backwards from each account's last
    day (the end, or the day before churn), when the active contracts give exactly its ``arr``,
    its licensed users and its contracted modules. Every contract carries all of the account's
    modules, the set its usage draws on."""
    rng = _rng(seed, _CONTRACTS)
    start, end = _contract_terms(w, rng)
    add = _addons(w, rng, start, end)
    rel_users, rel_price, ratio_arr, ratio_users, shrink = _contract_growth(w, rng, start, add)
    rows, a_acc, a_term = np.arange(w.n), add["acc"], add["term"]
    last = (start < NEVER).sum(axis=1) - 1                 # the term that holds the account's last day
    # scale the add-ons so that the last day holds the account's ARR and licensed users
    end_users = rel_users[rows, last] + np.bincount(a_acc, add["users"] * (a_term == last[a_acc]), w.n)
    arr_scale = w.arr / (end_users * rel_price[rows, last])
    add_arr = np.maximum(ARR_STEP, _round_to(add["users"] * rel_price[a_acc, a_term] * arr_scale[a_acc], ARR_STEP))
    add_users = np.maximum(1, np.rint(add["users"] * (w.seats / end_users)[a_acc])).astype(np.int64)
    base_arr = _backwards(w.arr, last, add, add_arr, ratio_arr, ARR_STEP)
    base_users = _backwards(w.seats, last, add, add_users, ratio_users, 1)
    b_acc, b_term = np.nonzero(start < NEVER)
    b_kind = np.where(b_term == 0, "new", np.where(shrink[b_acc, b_term], "contraction", "renewal"))
    acc = np.concatenate([b_acc, a_acc])
    starts = np.concatenate([start[b_acc, b_term], add["day"]])
    ends = np.concatenate([end[b_acc, b_term], end[a_acc, a_term]])
    arr = np.concatenate([base_arr[b_acc, b_term], add_arr])
    users = np.concatenate([base_users[b_acc, b_term], add_users])
    kind = np.concatenate([b_kind, np.full(a_acc.size, "expansion")]).astype(object)
    order = np.lexsort((kind == "expansion", starts, acc))
    names = np.array([";".join(MODULES[j] for j in sorted(m[m >= 0])) for m in w.modules], dtype=object)
    return {"account_id": w.account_id[acc[order]], "contract_id": _ids("K", order.size, 6),
            "starts_at": starts[order], "ends_at": ends[order], "arr": arr[order].astype(np.int64),
            "licensed_users": users[order].astype(np.int64), "modules": names[acc[order]], "kind": kind[order]}


def _add_years(start: np.datetime64, day: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Day index of the same calendar day ``years`` later (29 February becomes 1 March)."""
    date = start + day.astype("timedelta64[D]")
    month = date.astype("datetime64[M]")
    later = (month + (12 * years).astype("timedelta64[M]")).astype("datetime64[D]") \
        + (date - month.astype("datetime64[D]"))
    return (later - start).astype(np.int64)


def _contract_terms(w: World, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Base terms from signature, each of 1, 2 or 3 years (:data:`TERM_SHARES` by segment), renewed
    while the account is alive. A churn within :data:`HOLDOVER_DAYS` after a term end is a
    non-renewal: that term runs on to ``churned_at`` and no other follows. Returns start and
    (exclusive) end days, shape (accounts, terms), :data:`NEVER` where an account has fewer terms."""
    cum = np.cumsum(np.array(TERM_SHARES)[w.seg], axis=1)
    churned = w.churn < NEVER
    starts, ends = [], []
    start = w.signed.copy()
    while (start < w.end).any():
        years = np.array(TERM_YEARS)[np.minimum((rng.random(w.n)[:, None] >= cum).sum(axis=1), len(TERM_YEARS) - 1)]
        live = start < w.end
        end = _add_years(w.start, np.where(live, start, 0), years)
        held = live & churned & (w.churn >= end) & (w.churn < end + HOLDOVER_DAYS)
        end = np.where(held, w.churn, end)
        starts.append(np.where(live, start, NEVER))
        ends.append(np.where(live, end, NEVER))
        start = np.where(live & ~held, end, NEVER)
    return np.column_stack(starts), np.column_stack(ends)


def _quality(w: World, acc: np.ndarray, week: np.ndarray) -> np.ndarray:
    """True weighted quality H of accounts ``acc`` in weeks ``week`` (clipped to the world)."""
    weights = np.array([TRUE_WEIGHTS[d] for d in DIMENSIONS], dtype=np.float32)
    return (w.latent[acc, :, np.clip(week, 0, WEEKS - 1)] @ weights).astype(np.float64)


def _addons(w: World, rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
    """Mid-term add-ons: in each week an account is alive from go-live + :data:`ADDON_AFTER_GO_LIVE`
    days, one with probability min(EXPANSION_MAX, EXPANSION_RATE x e^(EXPANSION_SLOPE x (H - 0.60))) / 52,
    outside a term's first and last :data:`ADDON_QUIET_DAYS`, at most :data:`ADDONS_PER_TERM` a term.
    Returns per add-on: ``acc``, ``term``, ``rank`` (within its term), ``day``, ``share`` (users added
    as a share of those licensed then)."""
    acc, week = _alive_weeks(w, w.reached[:, 1] + ADDON_AFTER_GO_LIVE)
    u, day, share = rng.random(acc.size), _day_in_week(rng, week), rng.uniform(*EXPANSION_SIZE, acc.size)
    h = _quality(w, acc, week)
    rate = np.minimum(EXPANSION_MAX, EXPANSION_RATE * np.exp(EXPANSION_SLOPE * (h - QUALITY_CENTRE)))
    hit = np.flatnonzero(u < rate / 52)
    acc, day, share = acc[hit], day[hit], share[hit]
    term = (start[acc] <= day[:, None]).sum(axis=1) - 1
    first, last = ADDON_QUIET_DAYS
    ok = (day >= w.reached[acc, 1] + ADDON_AFTER_GO_LIVE) & (day < w.end[acc]) & (term >= 0)
    ok &= (day >= start[acc, term] + first) & (day < end[acc, term] - last)
    acc, day, share, term = acc[ok], day[ok], share[ok], term[ok]
    key = acc * start.shape[1] + term                       # sorted: accounts, then days
    pos = np.arange(key.size)
    rank = pos - np.maximum.accumulate(np.where(np.r_[True, key[1:] != key[:-1]], pos, 0))
    keep = rank < ADDONS_PER_TERM
    return {"acc": acc[keep], "term": term[keep], "rank": rank[keep], "day": day[keep], "share": share[keep]}


def _contract_growth(w: World, rng: np.random.Generator, start: np.ndarray, add: dict[str, np.ndarray]):
    """Forward in relative units (first term: 1 user at price 1): each add-on adds its share of the
    users licensed at the time (stored as ``add["users"]``); at a renewal the users of the term's
    last day carry over, times U(CONTRACTION_USERS) on a contraction (probability
    sigmoid(-3.0 + 20 (0.60 - H))), while an up-priced renewal (probability (1 - P(contraction)) x
    sigmoid(-0.8 + 15 (H - 0.60))) raises the price per user by U(UPLIFT_PRICE); H is taken in the
    week before the renewal. Returns relative users and prices per term, the renewal's ratio of
    ARR and of users to the previous term's last day, and which renewals are contractions."""
    n, k_max = start.shape
    users, price = np.ones((n, k_max)), np.ones((n, k_max))
    ratio_arr, ratio_users = np.ones((n, k_max)), np.ones((n, k_max))
    shrink = np.zeros((n, k_max), dtype=bool)
    add["users"] = np.zeros(add["acc"].size)
    total = np.ones(n)
    for k in range(k_max):
        u, cut, rise = rng.random(n), rng.uniform(*CONTRACTION_USERS, n), rng.uniform(*UPLIFT_PRICE, n)
        if k:
            h = _quality(w, np.arange(n), np.minimum(start[:, k], DAYS) // 7 - 1)
            p_cut = _sigmoid(CONTRACTION[0] + CONTRACTION[1] * (QUALITY_CENTRE - h))
            p_up = (1 - p_cut) * _sigmoid(UPLIFT[0] + UPLIFT[1] * (h - QUALITY_CENTRE))
            shrink[:, k] = u < p_cut
            up = ~shrink[:, k] & (u < p_cut + p_up)
            ratio_users[:, k] = np.where(shrink[:, k], cut, 1.0)
            ratio_arr[:, k] = ratio_users[:, k] * np.where(up, rise, 1.0)
            users[:, k] = total * ratio_users[:, k]
            price[:, k] = price[:, k - 1] * np.where(up, rise, 1.0)
        total = users[:, k].copy()
        for r in range(ADDONS_PER_TERM):
            m = (add["term"] == k) & (add["rank"] == r)
            add["users"][m] = add["share"][m] * total[add["acc"][m]]
            total[add["acc"][m]] += add["users"][m]
    return users, price, ratio_arr, ratio_users, shrink


def _backwards(final: np.ndarray, last: np.ndarray, add: dict[str, np.ndarray], add_values: np.ndarray,
               ratio: np.ndarray, step: int) -> np.ndarray:
    """Base-contract amounts (ARR or licensed users) per account and term, from the last day back:
    the last term's base is ``final`` less the add-ons active then; the day before a renewal the
    account held the renewal's base / ``ratio`` (rounded to ``step``), less that term's add-ons."""
    n, k_max = ratio.shape
    added = np.bincount(add["acc"] * k_max + add["term"], add_values, n * k_max).reshape(n, k_max)
    base = np.zeros((n, k_max))
    rows = np.arange(n)
    base[rows, last] = np.maximum(step, final - added[rows, last])
    for k in range(k_max - 1, 0, -1):
        m = k <= last
        held = _round_to(base[m, k] / ratio[m, k], step)
        base[m, k - 1] = np.maximum(step, held - added[m, k - 1])
    return np.rint(base).astype(np.int64)


def _round_to(x: np.ndarray, step: int) -> np.ndarray:
    return np.rint(np.asarray(x, dtype=np.float64) / step) * step


BUILDERS: dict[str, Callable[[World, int, dict], Columns]] = {
    "accounts": _accounts_table, "milestones": _milestones_table, "contacts": _contacts_table,
    "touchpoints": _touchpoints_table, "tickets": _tickets_table, "surveys": _surveys_table,
    "outcomes": _outcomes_table, "readiness": _readiness_table, "time_entries": _time_entries_table,
    "advocacy": _advocacy_table, "overrides": _overrides_table, "contracts": _contracts_table,
}


# ================================================================================ names and texts
FIRST_NAMES = ("Ada", "Ben", "Chloé", "Dev", "Elena", "Farah", "Gus", "Hana", "Ivan", "Jonas", "Kemi",
               "Liam", "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor",
               "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Dara", "Emeka", "Freya",
               "Goran", "Helga", "Ines", "Jae", "Kofi", "Lena", "Mateo", "Nadia")
LAST_NAMES = ("Okafor", "Schmidt", "Novak", "Tanaka", "García", "Haddad", "Kowalski", "Larsen", "Mensah",
              "Nguyen", "O'Brien", "Petrov", "Rossi", "Santos", "Singh", "Svensson", "Yilmaz", "Zhang",
              "Abbott", "Brennan", "Costa", "Dubois", "Eriksen", "Fischer", "Gupta", "Horvat", "Ito",
              "Jansen", "Kim", "Lopez", "Moreau", "Nakamura", "Olsen", "Park", "Reyes", "Silva", "Tran",
              "Varga", "Weber", "Young")
COMPANY_FIRST = ("Northwind", "Bluefin", "Cedar", "Granite", "Harbor", "Juniper", "Kestrel", "Lumen",
                 "Maple", "Nimbus", "Orchid", "Pioneer", "Quartz", "Redwood", "Summit", "Tidal", "Vertex",
                 "Willow", "Zenith", "Aurora", "Beacon", "Cobalt", "Delta", "Ember", "Falcon", "Glacier",
                 "Horizon", "Ironbark", "Jasper", "Keystone")
COMPANY_SECOND = ("Analytics", "Logistics", "Health", "Foods", "Systems", "Labs", "Retail", "Energy",
                  "Media", "Finance", "Works", "Partners", "Robotics", "Travel", "Insurance", "Mobility",
                  "Biotech", "Software", "Textiles", "Freight", "Learning", "Studios", "Dental", "Realty")
COMPANY_FORM = ("Ltd", "Inc", "GmbH", "SA", "BV", "plc", "LLC", "AB", "Oy", "Pty Ltd")
SPECIAL_NAMES = ("Müller & Söhne GmbH", 'O\'Neil, Dray & "Partners" LLC')
OUTCOMES = ("Cut onboarding time for new hires by 30%", "Automate month-end reporting",
            "Retire the legacy spreadsheet process", "Roll out to every regional team",
            "Halve the support backlog", "One view of the customer for sales and service",
            "Launch the partner portal", "Reduce manual data entry by 50%",
            "Pass the annual audit with no findings", "Live dashboards for the leadership team",
            "Integrate billing with the ERP", "Self-service analytics for managers",
            "Forecast accuracy within 5%", "Close the books in three days", "Onboard 200 field users",
            "Replace the ticketing tool", "Automate contract renewals", "Cut churn in the self-serve tier",
            "Weekly usage review in every team", "Consolidate three regional instances",
            "Single sign-on for all staff", "Launch the customer self-service portal")
READINESS_ITEMS = (("Success plan agreed", 2.0), ("Admins trained", 1.5), ("Single sign-on configured", 1.0),
                   ("Data migrated and checked", 2.0), ("Integrations live", 1.5),
                   ("Executive sponsor named", 1.0), ("Support process shared", 0.5),
                   ("Adoption targets set", 1.0), ("Welcome pack sent", np.nan))
COMMENTS_POSITIVE = (
    "Onboarding was smooth and the team was very responsive.",
    "The reporting module saves us hours every week.",
    "Great support - fast & friendly.",
    "Our champion loves the new dashboards.",
    "Setup took less time than we planned.",
    'Support answered within the hour: "best vendor we have", says our COO.',
    "Automations > spreadsheets. The team is happy.",
)
COMMENTS_NEUTRAL = (
    "Does the job; the mobile app could be faster.",
    "Fine overall, but the training material is thin.",
    "OK, though permissions are confusing.",
    "Good product; pricing & packaging are hard to follow.",
    "Would like a <b>bulk edit</b> option in workflows.",
)
COMMENTS_NEGATIVE = (
    "Too many bugs since the last release.",
    "Integrations keep failing & nobody follows up.",
    'Export breaks when a name contains "quotes" or commas, like "Smith, J."',
    "We still have no value after three months.",
    "Dashboards show totals < 0 for some teams and nobody can explain why.",
    "Response times on urgent tickets are unacceptable.",
    "Hard to use; our team went back to spreadsheets.",
)
OVERRIDE_REASONS = {
    "red": ("Budget freeze announced by the CFO; renewal at risk",
            "Champion resigned and no successor named yet",
            "Open escalation with the executive sponsor",
            "Customer is evaluating a competitor (told us in the QBR)"),
    "amber": ("Re-organisation in progress; usage expected to dip for a month",
              "Migration delayed by the customer's IT, not by adoption",
              "New decision maker; relationship still being built"),
    "green": ("Renewal signed early in the QBR",
              "Executive sponsor confirmed expansion & a case study",
              "Seasonal usage dip; the customer confirmed all is well",
              "Legal & procurement approved the 3-year renewal"),
}


def _people(n: int, rng: np.random.Generator, unique: bool = True) -> np.ndarray:
    """``n`` person names; unique ones (CSMs) come from a shuffled first x last grid."""
    if unique:
        grid = len(FIRST_NAMES) * len(LAST_NAMES)
        idx = np.concatenate([rng.permutation(grid) for _ in range(-(-n // grid))])[:n]
        rounds = np.arange(n) // grid
    else:
        idx = rng.integers(0, len(FIRST_NAMES) * len(LAST_NAMES), n)
        rounds = np.zeros(n, dtype=np.int64)
    first = np.array(FIRST_NAMES, dtype=object)[idx // len(LAST_NAMES)]
    last = np.array(LAST_NAMES, dtype=object)[idx % len(LAST_NAMES)]
    names = first + " " + last
    if rounds.any():
        names = np.where(rounds > 0, names + " " + (rounds + 1).astype(str).astype(object), names)
    return names.astype(object)


def _company_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unique-looking company names, plus the special ones that test escaping downstream."""
    a, b, c = len(COMPANY_FIRST), len(COMPANY_SECOND), len(COMPANY_FORM)
    grid = a * b * c
    idx = np.concatenate([rng.permutation(grid) for _ in range(-(-n // grid))])[:n]
    rounds = np.arange(n) // grid
    names = (np.array(COMPANY_FIRST, dtype=object)[idx // (b * c)] + " "
             + np.array(COMPANY_SECOND, dtype=object)[idx // c % b]
             + np.where(rounds > 0, " " + (rounds + 1).astype(str).astype(object), "") + " "
             + np.array(COMPANY_FORM, dtype=object)[idx % c])
    names[n // 3] = SCRIPT_NAME
    for i, special in zip((n // 2, (2 * n) // 3), SPECIAL_NAMES):
        if i != n // 3:
            names[i] = special
    return names.astype(object)
