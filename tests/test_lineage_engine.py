"""Lineage tracking in the engine (``run["lineages"]`` of ``_core.simulate_ensemble``).

Called through ``dtp_gillespie._core`` with dicts compiled by
:func:`dtp_gillespie.simulate.prepare`: tracking changes no count (bit for bit, under every kind
of schedule, with caps and extinction); the lineage table sums to ``count``; linear birth–death
from founders gives Kendall's laws for surviving barcodes and their sizes; a library draws
barcodes uniformly; clones are founded one per mutation event of the trace; table starts
continue a run; bad lineage input is an ``InvalidRunError`` naming the field. Statistical tests
use a fixed seed, a tolerance from the standard error and a rejection twin (oracles.py).
"""

import copy
import math
from typing import Any

import dtp_gillespie._core as core
import numpy as np
import pytest
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.simulate import prepare
from models import SPR
from oracles import Z_CRIT, kendall_alpha_beta, tiers, z_mean, z_proportion
from scipy import stats

Specs = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]

# One-sided normal quantile at 0.999: a twin is rejected with >= 99.9% power when its expected
# |z| exceeds Z_CRIT + Z_POWER.
Z_POWER = 3.09


def specs(model: Any, schedule: Any, lineages: dict[str, Any] | None, **options: Any) -> Specs:
    """The engine dicts of a run, with ``lineages`` in the run dict (None: untracked)."""
    prep = prepare(model, schedule, **options)
    run: dict[str, Any] = copy.deepcopy(dict(prep.core_run))
    if lineages is not None:
        run["lineages"] = lineages
    return copy.deepcopy(dict(prep.core_model)), copy.deepcopy(dict(prep.core_schedule)), run


def simulate(s: Specs, **run: Any) -> dict[str, np.ndarray]:
    model, schedule, base = s
    return dict(core.simulate_ensemble(model, schedule, {**base, **run}))


def founders(times: list[float], clones: bool = True) -> dict[str, Any]:
    return {"start": "founders", "times": times, "clones": clones}


def table_sums(out: dict[str, np.ndarray], first: int = 0) -> np.ndarray:
    """The lineage table summed per (replicate, time, state), shaped like ``count``."""
    sums = np.zeros(out["count"].shape, dtype=np.int64)
    np.add.at(
        sums,
        (out["lineage_replicate"] - first, out["lineage_time"], out["lineage_state"]),
        out["lineage_count"],
    )
    return sums


# ------------------------------------------------------------------------ totals unchanged

_PK_MODEL = copy.deepcopy(SPR)
_PK_MODEL["death"]["S"] = {"off": 0.1, "on": 2.0}

# (model, schedule, run options): every kind of schedule, caps and extinction.
CASES: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    "continuous": (SPR, {"kind": "continuous", "exposure": "on"}, {}),
    "intermittent": (SPR, {"kind": "intermittent", "on": 1.0, "off": 1.0}, {}),
    "adaptive": (SPR, {"kind": "adaptive", "stop_below": 0.5, "resume_above": 1.0}, {}),
    "pk": (
        _PK_MODEL,
        {"kind": "pk", "dose": 1.0, "dose_every": 1.0, "half_life": 0.5, "ec50": 1.0},
        {},
    ),
    "max_population": (SPR, {"kind": "continuous", "exposure": "off"}, {"max_population": 70}),
    "max_events": (SPR, {"kind": "continuous", "exposure": "off"}, {"max_events": 60}),
    "extinction": (SPR, {"kind": "continuous", "exposure": "on"}, {"initial": {"S": 3}}),
    "biomarker, progression": (
        {**SPR, "biomarker": {"production": {"S": 1.0, "P": 2.0}, "decay": 0.5}},
        {"kind": "adaptive", "stop_below": 0.5, "resume_above": 1.0},
        {"progression": {"factor": 1.5, "min_size": 10}},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tracking_changes_no_count_and_the_table_sums_to_count(case: str) -> None:
    model, schedule, options = CASES[case]
    options = {"initial": {"S": 30, "P": 4}, "t_end": 6.0, "record_every": 1.0, **options}
    options |= {"seed": 11, "n_replicates": 16}
    plain = simulate(specs(model, schedule, None, **options))
    times = [float(t) for t in np.arange(0.0, 6.5, 1.0)]
    for lineages in (
        founders(times),
        {"start": "library", "n_barcodes": 5, "times": times, "clones": False},
    ):
        out = simulate(specs(model, schedule, lineages, **options))
        for key, value in plain.items():
            assert np.array_equal(out[key], value, equal_nan=value.dtype.kind == "f"), key
        assert out["lineage_count"].size > 0
        # Barcode times are the record times: the table sums to count where count is known.
        assert np.array_equal(table_sums(out), np.maximum(plain["count"], 0))
    if case in ("max_population", "max_events"):
        assert (plain["status"] == core.STATUS_CODES[case]).any()
    if case == "extinction":
        assert (plain["status"] == core.STATUS_CODES["extinct"]).any()


# --------------------------------------------------------------------------------- Kendall

BIRTH, DEATH, T = 1.0, 0.5, 1.0
N_FOUNDERS = 100


def kendall_sample(n_replicates: int) -> tuple[int, np.ndarray]:
    """Surviving barcodes among all founders at T, and their sizes (one state, founders)."""
    model = {"states": ["S"], "division": {"S": BIRTH}, "death": {"S": DEATH}}
    s = specs(
        model,
        {"kind": "continuous"},
        founders([T], clones=False),
        initial={"S": N_FOUNDERS},
        t_end=T,
        times=[T],
        seed=5,
        n_replicates=n_replicates,
    )
    out = simulate(s)
    return out["lineage_count"].size, out["lineage_count"]


@pytest.mark.parametrize(("factor", "n_replicates"), tiers(300, 4000))
def test_founder_barcodes_follow_kendall(factor: float, n_replicates: int) -> None:
    survivors, sizes = kendall_sample(n_replicates)
    n = N_FOUNDERS * n_replicates
    for birth, should_pass in ((BIRTH, True), (BIRTH * factor, False)):
        alpha, beta = kendall_alpha_beta(birth, DEATH, T)
        z_alive = z_proportion(survivors, n, 1 - alpha)
        # Geometric sizes on 1, 2, ...: mean 1 / (1 - beta), variance beta / (1 - beta)^2.
        z_size = z_mean(sizes, 1 / (1 - beta), beta / (1 - beta) ** 2)
        if should_pass:
            assert abs(z_alive) < Z_CRIT, z_alive
            assert abs(z_size) < Z_CRIT, z_size
        else:
            assert abs(z_alive) > Z_CRIT, z_alive
            assert abs(z_size) > Z_CRIT, z_size
    # Power of each twin, from the true law's standard errors.
    alpha, beta = kendall_alpha_beta(BIRTH, DEATH, T)
    alpha_w, beta_w = kendall_alpha_beta(BIRTH * factor, DEATH, T)
    se_alive = math.sqrt(alpha * (1 - alpha) / n)
    se_size = math.sqrt(beta / (1 - beta) ** 2 / (n * (1 - alpha)))
    assert abs(alpha - alpha_w) / se_alive > Z_CRIT + Z_POWER
    assert abs(1 / (1 - beta) - 1 / (1 - beta_w)) / se_size > Z_CRIT + Z_POWER


# --------------------------------------------------------------------------------- library

N_BARCODES = 10


@pytest.mark.parametrize(("factor", "n_replicates"), tiers(100, 1000))
def test_a_library_draws_barcodes_uniformly(factor: float, n_replicates: int) -> None:
    # S has more cells than barcodes (conditional binomials), P fewer (one draw per cell).
    model = {"states": ["S", "P"], "division": {"S": 0.1}, "death": {"P": 0.1}}
    library = {"start": "library", "n_barcodes": N_BARCODES, "times": [0.0], "clones": False}
    initial = {"S": 300, "P": 5}
    s = specs(
        model,
        {"kind": "continuous"},
        library,
        initial=initial,
        t_end=0.01,
        times=[0.0],
        seed=8,
        n_replicates=n_replicates,
    )
    out = simulate(s)
    per_state = np.zeros((n_replicates, 2), dtype=np.int64)
    np.add.at(per_state, (out["lineage_replicate"], out["lineage_state"]), out["lineage_count"])
    assert (per_state == [initial["S"], initial["P"]]).all()
    observed = np.bincount(out["lineage_barcode"], out["lineage_count"], N_BARCODES)
    n = int(observed.sum())
    critical = stats.chi2.isf(0.001, N_BARCODES - 1)
    uniform = np.full(N_BARCODES, 1 / N_BARCODES)
    favoured = np.ones(N_BARCODES)
    favoured[0] = factor
    favoured /= favoured.sum()
    assert ((observed - n * uniform) ** 2 / (n * uniform)).sum() < critical
    assert ((observed - n * favoured) ** 2 / (n * favoured)).sum() > critical
    # The twin is rejected with >= 99.9% power (non-central chi-square).
    noncentrality = n * ((uniform - favoured) ** 2 / favoured).sum()
    assert stats.ncx2.sf(critical, N_BARCODES - 1, noncentrality) > 0.999


# ---------------------------------------------------------------------------------- clones


def clone_run(model: Any, n_replicates: int = 8, **options: Any) -> tuple[Specs, dict[str, Any]]:
    times = [0.0, 4.0, 8.0]
    s = specs(
        model,
        {"kind": "intermittent", "on": 2.0, "off": 2.0},
        founders(times),
        **{"initial": {"S": 20, "P": 10}, "t_end": 8.0, "times": times, "seed": 3, **options},
        n_replicates=n_replicates,
    )
    return s, simulate(s)


def test_one_clone_per_mutation_event_of_the_trace() -> None:
    s, out = clone_run(SPR)
    model, schedule, run = s
    mutation = np.array([c["mutation"] for c in model["channels"]])
    inc = np.array([-1 if c["inc"] is None else c["inc"] for c in model["channels"]])
    assert out["clones_born"].sum() > 0
    for r in range(8):
        t = core.trace(model, schedule, run, r)
        fired = t["channel"][1:]
        mutant = mutation[fired]
        mine = out["clone_replicate"] == r
        assert out["clones_born"][r] == mutant.sum() == mine.sum()
        assert np.array_equal(out["clone_birth_time"][mine], t["time"][1:][mutant])
        assert np.array_equal(out["clone_state"][mine], inc[fired[mutant]])
        assert np.array_equal(out["clone_birth_exposure"][mine], t["exposure"][1:][mutant])
        assert np.array_equal(out["clone_id"][mine], np.arange(1, mine.sum() + 1))
        if mine.any():
            assert out["first_mutant_time"][r] == out["clone_birth_time"][mine][0]
        # Every clone's rows carry its barcode.
        barcode_of = dict(zip(out["clone_id"][mine], out["clone_barcode"][mine], strict=True))
        rows = (out["lineage_replicate"] == r) & (out["lineage_clone"] > 0)
        for clone, barcode in zip(
            out["lineage_clone"][rows], out["lineage_barcode"][rows], strict=True
        ):
            assert barcode_of[clone] == barcode
        # Alive at the end (every replicate completes here) exactly when NaN extinction time;
        # a clone's extinction is an event time of its replicate.
        at_end = set(out["lineage_clone"][rows & (out["lineage_time"] == 2)])
        for clone, died in zip(
            out["clone_id"][mine], out["clone_extinction_time"][mine], strict=True
        ):
            assert (clone in at_end) == math.isnan(died)
            assert math.isnan(died) or died in t["time"]
        alive = mine & np.isnan(out["clone_extinction_time"])
        assert out["clones_alive"][r] == alive.sum()
        first = out["clone_birth_time"][alive].min() if alive.any() else math.nan
        assert out["first_surviving_resistant_time"][r] == pytest.approx(first, nan_ok=True)
    assert (out["status"] == core.STATUS_CODES["completed"]).all()


def test_first_surviving_resistant_time_on_hand_checked_cases() -> None:
    # Mutants that never die: every clone survives, the first one is the first mutant.
    immortal = copy.deepcopy(SPR)
    immortal["death"]["R"] = 0.0
    _, out = clone_run(immortal)
    born = out["clones_born"] > 0
    assert born.any()
    assert (out["clones_alive"] == out["clones_born"]).all()
    assert np.array_equal(
        out["first_surviving_resistant_time"][born], out["first_mutant_time"][born]
    )
    # Mutants that die at once and never divide: every clone is extinct by the end.
    doomed = copy.deepcopy(SPR)
    doomed["division"]["R"] = 0.0
    doomed["death"]["R"] = 1e6
    _, out = clone_run(doomed)
    assert out["clones_born"].sum() > 0
    assert (out["clones_alive"] == 0).all()
    assert np.isnan(out["first_surviving_resistant_time"]).all()
    assert (out["clone_extinction_time"] > out["clone_birth_time"]).all()
    # No mutation: no clone.
    clean = copy.deepcopy(SPR)
    del clean["mutation"]
    _, out = clone_run(clean)
    assert (out["clones_born"] == 0).all()
    assert out["clone_id"].size == 0


# ------------------------------------------------------------------------------ table start


def table_from(out: dict[str, np.ndarray], time: int, n: int, n_states: int) -> dict[str, Any]:
    """The lineages of each replicate at barcode time ``time`` as a table start."""
    offsets, barcode, clone, count = [0], [], [], []
    for r in range(n):
        at = (out["lineage_replicate"] == r) & (out["lineage_time"] == time)
        pairs = sorted(set(zip(out["lineage_barcode"][at], out["lineage_clone"][at], strict=True)))
        for b, c in pairs:
            row = np.zeros(n_states, dtype=np.int64)
            mine = at & (out["lineage_barcode"] == b) & (out["lineage_clone"] == c)
            row[out["lineage_state"][mine]] = out["lineage_count"][mine]
            barcode.append(b)
            clone.append(c)
            count.append(row)
        offsets.append(len(barcode))
    return {
        "table_offsets": np.array(offsets, dtype=np.int64),
        "table_barcode": np.array(barcode, dtype=np.int64),
        "table_clone": np.array(clone, dtype=np.int64),
        "table_count": np.array(count, dtype=np.int64).reshape(-1, n_states),
    }


def test_a_table_start_continues_each_replicate() -> None:
    n = 6
    _, first = clone_run(SPR, n_replicates=n)
    table = table_from(first, 2, n, 3)
    next_clone = int(first["clone_id"].max(initial=0)) + 1
    lineages = {"start": "table", "times": [0.0, 3.0], "clones": True, "next_clone": next_clone}
    lineages |= table
    model, schedule, run = specs(
        SPR,
        {"kind": "continuous", "exposure": "on"},
        lineages,
        initial={"S": 0, "P": 0, "R": 0},
        t_end=3.0,
        times=[0.0, 3.0],
        seed=4,
        n_replicates=n,
    )
    out = simulate((model, schedule, run))
    # Each replicate starts from its table: counts at 0 are the first run's at its end.
    assert np.array_equal(out["count"][:, 0], first["count"][:, 2])
    assert np.array_equal(table_sums(out), np.maximum(out["count"], 0))
    again = table_from(out, 0, n, 3)
    for key, value in table.items():
        assert np.array_equal(again[key], value), key
    assert (out["clone_id"] >= next_clone).all()
    # The same for any thread count and any split into calls (each call its own rows).
    for threads in (1, 2):
        assert_same(simulate((model, schedule, run), n_threads=threads), out)
    cut = 2
    offsets = table["table_offsets"]
    parts = []
    for lo, hi in ((0, cut), (cut, n)):
        rows = slice(int(offsets[lo]), int(offsets[hi]))
        part = {
            "table_offsets": offsets[lo : hi + 1] - offsets[lo],
            "table_barcode": table["table_barcode"][rows],
            "table_clone": table["table_clone"][rows],
            "table_count": table["table_count"][rows],
        }
        call = {**run, "lineages": {**lineages, **part}}
        parts.append(simulate((model, schedule, call), replicate_offset=lo, n_replicates=hi - lo))
    joined = {k: np.concatenate([p[k] for p in parts]) for k in out}
    assert_same(joined, out)


def test_a_table_start_runs_like_an_untracked_run_from_its_counts() -> None:
    # Adaptive dosing relative to the initial burden, and a biomarker seeded from the initial
    # counts: both must read each replicate's own table counts.
    model = {**copy.deepcopy(SPR), "biomarker": {"production": {"S": 1.0, "P": 2.0}, "decay": 0.5}}
    schedule = {"kind": "adaptive", "stop_below": 0.5, "resume_above": 1.0}
    counts = [[20, 3, 0], [6, 9, 1], [40, 0, 2]]
    table = {
        "table_offsets": np.array([0, 1, 3, 4], dtype=np.int64),
        "table_barcode": np.array([0, 1, 2, 3], dtype=np.int64),
        "table_clone": np.zeros(4, dtype=np.int64),
        "table_count": np.array([counts[0], [6, 0, 0], [0, 9, 1], counts[2]], dtype=np.int64),
    }
    options = {"t_end": 6.0, "record_every": 0.5, "seed": 21}
    lineages = {"start": "table", "times": [0.0, 6.0], "clones": True, **table}
    s = specs(model, schedule, lineages, initial={"S": 1}, n_replicates=3, **options)
    tracked = simulate(s)
    for r, (n_s, n_p, n_r) in enumerate(counts):
        initial = {"S": n_s, "P": n_p, "R": n_r}
        alone = simulate(
            specs(model, schedule, None, initial=initial, **options), replicate_offset=r
        )
        for key, value in alone.items():
            assert np.array_equal(tracked[key][r : r + 1], value, equal_nan=True), key


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in b:
        assert np.array_equal(a[key], b[key], equal_nan=b[key].dtype.kind == "f"), key


# ------------------------------------------------------------------------------- bad input

_TABLE = {
    "start": "table",
    "times": [0.0],
    "clones": False,
    "table_offsets": np.array([0, 2], dtype=np.int64),
    "table_barcode": np.array([0, 1], dtype=np.int64),
    "table_clone": np.array([0, 0], dtype=np.int64),
    "table_count": np.array([[1, 0], [2, 3]], dtype=np.int64),
}

BAD: dict[str, tuple[dict[str, Any], str]] = {
    "unknown start": ({"start": "clonal", "times": [0.0], "clones": False}, "lineages.start"),
    "no barcodes": (
        {"start": "library", "n_barcodes": 0, "times": [0.0], "clones": False},
        r"lineages.n_barcodes is 0; it must be >= 1",
    ),
    "library without size": (
        {"start": "library", "times": [0.0], "clones": False},
        "lineages.n_barcodes is required",
    ),
    "time after t_end": (founders([0.0, 3.0]), r"lineages.times: barcode time 3 is outside"),
    "negative time": (founders([-1.0]), "lineages.times"),
    "decreasing times": (founders([1.0, 0.5]), "lineages.times must be non-decreasing"),
    "nothing to record": (founders([], clones=False), "lineages.times is empty"),
    "negative count": (
        {**_TABLE, "table_count": np.array([[1, 0], [-2, 3]], dtype=np.int64)},
        "lineages.table_count has -2",
    ),
    "one-dimensional counts": (
        {**_TABLE, "table_count": np.array([1, 0, 2, 3], dtype=np.int64)},
        r"lineages.table_count has shape \[4\]",
    ),
    "wrong columns": (
        {**_TABLE, "table_count": np.array([[1], [2]], dtype=np.int64)},
        "lineages.table_count has 1 columns",
    ),
    "short clone column": (
        {**_TABLE, "table_clone": np.array([0], dtype=np.int64)},
        "lineages.table_clone has 1 rows",
    ),
    "offsets past the rows": (
        {**_TABLE, "table_offsets": np.array([0, 3], dtype=np.int64)},
        "lineages.table_offsets must start at 0 and end",
    ),
    "offsets for other replicates": (
        {**_TABLE, "table_offsets": np.array([0, 1, 1, 2], dtype=np.int64)},
        "lineages.table_offsets has 4 entries",
    ),
    "same lineage twice": (
        {**_TABLE, "table_barcode": np.array([1, 1], dtype=np.int64)},
        "lineages.table_barcode/table_clone",
    ),
    "negative clone": (
        {**_TABLE, "table_clone": np.array([0, -1], dtype=np.int64)},
        "lineages.table_clone has -1",
    ),
    "next clone too small": (
        {**_TABLE, "table_clone": np.array([0, 4], dtype=np.int64), "next_clone": 4},
        "lineages.next_clone is 4 but the table has clone 4",
    ),
    "next clone zero": ({**founders([0.0]), "next_clone": 0}, "lineages.next_clone is 0"),
    "missing times": ({"start": "founders", "clones": True}, '"times" is missing'),
    "table not an array": ({**_TABLE, "table_barcode": "0,1"}, "table_barcode"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_lineage_input_is_a_typed_error_naming_the_field(case: str) -> None:
    lineages, message = BAD[case]
    model = {"states": ["S", "P"], "division": {"S": 1.0}, "death": {"P": 0.1}}
    s = specs(
        model,
        {"kind": "continuous"},
        lineages,
        initial={"S": 3, "P": 3},
        t_end=2.0,
        seed=1,
        n_replicates=2,
    )
    with pytest.raises(InvalidRunError, match=message):
        simulate(s)
