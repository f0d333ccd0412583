"""Invariances of exact population jumps over hypothesis-generated linear models (n₀ ≤ 10³): the
law of the counts must not depend on how a run is cut into regimes and steps.

(a) **threshold**: ``jump_threshold`` 0 (every pool jumped), infinity (every pool event by
event) and a drawn value in between (regimes mixed per pool and step) give the same law;
(b) **step**: ``jump_step`` 0.05, 0.5 and 2 days give the same law (every pool jumped);
(c) **semigroup**: two jumped steps of ``t1`` and ``t2`` give the law of one step of
``t1 + t2``.

Each example compares the final counts per state, pair by pair, by two-sample Kolmogorov–Smirnov
tests; the family of every test of every example of a property is held at α = 0.001
(Bonferroni), and the seeds are fixed (the CI profile is derandomized), so a CI run is
deterministic. Each property has
a rejection twin: the same comparison, with one side's division rate 20% off (5% in the deep
tier), must reject, and the replicate count is sized for >= 99.9% power against it from the exact
(Kendall) law of the twin (:func:`ks_power_margin`).
"""

import math
import os
from collections.abc import Mapping
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import kendall_alpha_beta, tiers
from scipy import stats
from strategies import model_specs, model_states, schedule_specs

DEEP = os.environ.get("DTP_DEEP", "") not in ("", "0")  # as conftest.py decides
ALPHA = 0.001
SEED = 20_261_203
N_CI, N_DEEP = 2000, 10_000
N_REPLICATES = N_DEEP if DEEP else N_CI
# A fixed number of examples per property (the CI profile is derandomized, so CI always runs
# the same ones); each runs two or three ensembles.
EXAMPLES = 200 if DEEP else 40
# Tables of 2-day steps stay small (their box grows with division rate × step); tails of 1e-14
# per ancestor and step are never hit by 10³ cells.
TOLERANCE = 1e-14


def _scaled(rate: Any, factor: float) -> Any:
    if isinstance(rate, Mapping):
        return {k: v * factor for k, v in rate.items()}
    return rate * factor


def slowed(spec: dict[str, Any], division: float = 0.2) -> dict[str, Any]:
    """A drawn model with division rates scaled by ``division`` (<= 0.4 a day by default),
    death <= 1 and switches <= 0.5 a day."""
    out = dict(spec)
    for process, factor in (("division", division), ("death", 0.5)):
        if process in spec:
            out[process] = {s: _scaled(r, factor) for s, r in spec[process].items()}
    if "switch" in spec:
        out["switch"] = [{**sw, "rate": _scaled(sw["rate"], 0.25)} for sw in spec["switch"]]
    return out


@st.composite
def linear_runs(draw: st.DrawFn, continuous: bool = False, division: float = 0.2) -> dict[str, Any]:
    """A linear model (:func:`slowed`), a fixed schedule, n₀ <= 10³ cells (at most 333 per
    state) and t_end."""
    spec = draw(model_specs(max_states=3, max_exposures=2, capacity=False))
    model = slowed(spec, division)
    t_end = draw(st.sampled_from([0.5, 1.0, 2.0]))
    exposures = model["exposures"]
    schedule = (
        {"kind": "continuous", "exposure": draw(st.sampled_from(exposures))}
        if continuous
        else draw(schedule_specs(exposures, max_time=t_end))
    )
    return {
        "model": model,
        "schedule": schedule,
        # At least one cell: an empty start is the same in every run.
        "initial": draw(
            st.dictionaries(st.sampled_from(model_states(model)), st.integers(1, 333), min_size=1)
        ),
        "t_end": t_end,
    }


def final_counts(run: Mapping[str, Any], n: int = N_REPLICATES, **options: Any) -> np.ndarray:
    """Final counts (replicate, state) of a jump run."""
    ds = dg.simulate(
        **{"n_replicates": n, "seed": SEED, "jump_tolerance": TOLERANCE, **run, **options},
        method="jump",
    )
    return ds["count"].isel(time=-1).to_numpy()


def smallest_p(samples: list[np.ndarray]) -> tuple[float, int]:
    """The smallest two-sample KS p-value over every pair of samples and every state, and the
    number of tests (the Bonferroni family)."""
    ps = [
        float(stats.ks_2samp(a[:, s], b[:, s], method="asymp").pvalue)
        for i, a in enumerate(samples)
        for b in samples[i + 1 :]
        for s in range(a.shape[1])
        if not (np.all(a[:, s] == a[0, s]) and np.all(b[:, s] == a[0, s]))
    ]
    return min(ps, default=1.0), max(1, len(ps))


def same_law(samples: list[np.ndarray]) -> bool:
    """No KS test rejects at α over the family of every test of every example of a property
    (Bonferroni): a whole run of a property has a false-alarm rate of at most α."""
    p, tests = smallest_p(samples)
    return p >= ALPHA / (EXAMPLES * tests)


# --- the properties -----------------------------------------------------------------------


@settings(max_examples=EXAMPLES)
# Steps of 0.5 days: division up to 1 a day keeps the tables small.
@given(linear_runs(division=0.5), st.floats(min_value=0.5, max_value=300.0))
def test_threshold_invariance(run: dict[str, Any], threshold: float) -> None:
    samples = [final_counts(run, jump_threshold=x) for x in (0.0, math.inf, threshold)]
    assert same_law(samples), smallest_p(samples)


@settings(max_examples=EXAMPLES)
@given(linear_runs())
def test_step_invariance(run: dict[str, Any]) -> None:
    samples = [final_counts(run, jump_threshold=0.0, jump_step=h) for h in (0.05, 0.5, 2.0)]
    assert same_law(samples), smallest_p(samples)


def one_and_two_steps(run: Mapping[str, Any], t1: float, t2: float) -> list[np.ndarray]:
    """Final counts at t1 + t2 after one step, and after two (a record time at t1 splits it)."""
    run = {**run, "t_end": t1 + t2}
    one = final_counts(run, jump_threshold=0.0, jump_step=t1 + t2, times=[0.0, t1 + t2])
    two = final_counts(run, jump_threshold=0.0, jump_step=max(t1, t2), times=[0.0, t1, t1 + t2])
    return [one, two]


halves = st.sampled_from([0.25, 0.5, 0.75, 1.0])


@settings(max_examples=EXAMPLES)
@given(linear_runs(continuous=True), halves, halves)
def test_semigroup_two_steps_equal_one(run: dict[str, Any], t1: float, t2: float) -> None:
    samples = one_and_two_steps(run, t1, t2)
    assert same_law(samples), smallest_p(samples)


# --- the rejection twins ------------------------------------------------------------------
# Birth–death from 200 cells, death 0.5 a day, over 2 days; the twin divides 20% (5%) faster.
TWIN_N0, TWIN_DEATH, TWIN_T = 200, 0.5, 2.0


def birth_death(b: float) -> dict[str, Any]:
    return {
        "model": {"states": ["N"], "exposures": ["off"], "division": {"N": b}, "death": {"N": 0.5}},
        "schedule": "off",
        "initial": {"N": TWIN_N0},
        "t_end": TWIN_T,
    }


def kendall_cdf(n0: int, b: float, d: float, t: float) -> np.ndarray:
    """The exact CDF of the count at t from n0 cells (n0-fold convolution of Kendall's law)."""
    alpha, beta = kendall_alpha_beta(b, d, t)
    size = 1 << 16
    k = np.arange(1, size)
    one = np.concatenate([[alpha], (1 - alpha) * (1 - beta) * beta ** (k - 1)])
    pmf = np.fft.irfft(np.fft.rfft(one) ** n0, size)
    return np.cumsum(np.clip(pmf, 0.0, None))


def ks_power_margin(factor: float, n: int, tests: int) -> float:
    """The distance between the twin's and the true CDF, less what a rejection at the level of
    :func:`same_law` (α / (examples × tests)) with power 99.9% needs with n replicates per
    sample (> 0: powered). A two-sample KS test rejects when D > c·sqrt(2/n),
    c = sqrt(-ln(level/2)/2); by the Dvoretzky–Kiefer–Wolfowitz
    inequality each empirical CDF is within ε of its law with probability >= 1 - 2e^{-2nε²}, so
    D > δ - 2ε with probability >= 0.999 when 2·2e^{-2nε²} = 0.001."""
    true = kendall_cdf(TWIN_N0, 1.0, TWIN_DEATH, TWIN_T)
    twin = kendall_cdf(TWIN_N0, factor, TWIN_DEATH, TWIN_T)
    delta = float(np.max(np.abs(true - twin)))
    level = ALPHA / (EXAMPLES * tests)
    critical = math.sqrt(-math.log(level / 2) / 2) * math.sqrt(2 / n)
    epsilon = math.sqrt(math.log(4 / 0.001) / (2 * n))
    return delta - critical - 2 * epsilon


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=N_CI, deep_n=N_DEEP))
def test_threshold_invariance_rejects_a_wrong_rate(factor: float, n: int) -> None:
    assert ks_power_margin(factor, n, tests=1) > 0
    true, twin = birth_death(1.0), birth_death(factor)
    samples = [final_counts(true, n, jump_threshold=x) for x in (0.0, math.inf)]
    assert same_law(samples)
    wrong = [final_counts(true, n, jump_threshold=0.0), final_counts(twin, n, jump_threshold=25.0)]
    assert not same_law(wrong)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=N_CI, deep_n=N_DEEP))
def test_step_invariance_rejects_a_wrong_rate(factor: float, n: int) -> None:
    assert ks_power_margin(factor, n, tests=1) > 0
    true, twin = birth_death(1.0), birth_death(factor)
    steps = {"jump_threshold": 0.0}
    assert same_law([final_counts(true, n, **steps, jump_step=h) for h in (0.05, 2.0)])
    wrong = [
        final_counts(true, n, **steps, jump_step=0.05),
        final_counts(twin, n, **steps, jump_step=2.0),
    ]
    assert not same_law(wrong)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=N_CI, deep_n=N_DEEP))
def test_semigroup_rejects_a_wrong_rate(factor: float, n: int) -> None:
    assert ks_power_margin(factor, n, tests=1) > 0
    one, _ = one_and_two_steps(birth_death(1.0), 1.0, 1.0)
    _, two = one_and_two_steps(birth_death(factor), 1.0, 1.0)
    assert not same_law([one, two])
    assert same_law(one_and_two_steps(birth_death(1.0), 1.0, 1.0))
