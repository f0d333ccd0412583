"""dg.analysis against hand-computed and textbook values, on hand-made and simulated Datasets."""

import io
import math
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dtp_gillespie import analysis as an
from dtp_gillespie.cli import _summarise_probabilities
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.schedule import Schedule
from handmade import (
    MP_EVENTS,
    MP_TIMES,
    PLACEBO_EVENTS,
    PLACEBO_TIMES,
    make_run,
    survival_run,
)
from models import SPR_GROWING
from oracles import Z_CRIT, kendall_alpha_beta, tiers, z_proportion
from scipy import stats


@pytest.fixture(scope="module")
def mp() -> xr.Dataset:
    return survival_run(MP_TIMES, MP_EVENTS)


@pytest.fixture(scope="module")
def placebo() -> xr.Dataset:
    return survival_run(PLACEBO_TIMES, PLACEBO_EVENTS)


@pytest.fixture(scope="module")
def trial(mp: xr.Dataset, placebo: xr.Dataset) -> xr.Dataset:
    """The two arms along a leading (sweep-like) dimension."""
    return xr.concat([mp, placebo], dim=pd.Index([7, 14], name="schedule.off"))


# --- Kaplan–Meier: the 6-MP arm of Freireich et al. (1963) ----------------------------------------
def test_km_matches_the_textbook_6mp_table(mp: xr.Dataset) -> None:
    km = an.kaplan_meier(mp, "progression_time")
    expected = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    assert km["time"].values.tolist() == [0.0, *map(float, expected)]
    for t, s in expected.items():
        assert km["survival"].sel(time=t).item() == pytest.approx(s, abs=5e-4)
    assert km["survival"].sel(time=0).item() == 1.0
    at_risk = {6: 21, 7: 17, 10: 15, 13: 12, 16: 11, 22: 7, 23: 6}
    events = {6: 3, 7: 1, 10: 1, 13: 1, 16: 1, 22: 1, 23: 1}
    for t in at_risk:
        assert km["at_risk"].sel(time=t).item() == at_risk[t]
        assert km["events"].sel(time=t).item() == events[t]
    assert km["n"].item() == 21
    assert km["n_events"].item() == 9


def test_km_greenwood_standard_error(mp: xr.Dataset) -> None:
    km = an.kaplan_meier(mp, "progression_time")
    # Greenwood at t = 6: S * sqrt(3 / (21 * 18)); textbook 0.0764, and 0.1346 at t = 23.
    se6 = (18 / 21) * math.sqrt(3 / (21 * 18))
    assert km["std_error"].sel(time=6).item() == pytest.approx(se6, rel=1e-12)
    assert km["std_error"].sel(time=6).item() == pytest.approx(0.0764, abs=5e-5)
    assert km["std_error"].sel(time=23).item() == pytest.approx(0.1346, abs=5e-5)


def test_km_loglog_band(mp: xr.Dataset) -> None:
    km = an.kaplan_meier(mp, "progression_time", confidence=0.95)
    # R: survfit(Surv(time, status) ~ 1, conf.type = "log-log") gives 0.620-0.952 at t = 6.
    assert km["lower"].sel(time=6).item() == pytest.approx(0.620, abs=5e-4)
    assert km["upper"].sel(time=6).item() == pytest.approx(0.952, abs=5e-4)
    s = km["survival"].sel(time=13).item()
    gw = 3 / (21 * 18) + 1 / (17 * 16) + 1 / (15 * 14) + 1 / (12 * 11)
    sigma = math.sqrt(gw) / abs(math.log(s))
    z = stats.norm.ppf(0.975)
    assert km["lower"].sel(time=13).item() == pytest.approx(s ** math.exp(z * sigma))
    assert km["upper"].sel(time=13).item() == pytest.approx(s ** math.exp(-z * sigma))
    assert (km["lower"] <= km["survival"]).all()
    assert (km["survival"] <= km["upper"]).all()
    narrow = an.kaplan_meier(mp, "progression_time", confidence=0.5)
    assert (narrow["lower"] >= km["lower"]).all()


def test_median_and_brookmeyer_crowley_interval(mp: xr.Dataset, placebo: xr.Dataset) -> None:
    med = an.median_time(mp, "progression_time")
    # R (log-log): median 23, 95% CI 13 to NA.
    assert med["median"].item() == 23.0
    assert med["lower"].item() == 13.0
    assert np.isnan(med["upper"].item())
    med = an.median_time(placebo, "progression_time")
    assert med["median"].item() == 8.0
    assert med["lower"].item() == 4.0
    km = an.kaplan_meier(placebo, "progression_time")
    first_upper_below = km["time"].where(km["upper"] <= 0.5).min().item()
    assert med["upper"].item() == first_upper_below


def test_median_without_censoring_is_the_sample_median() -> None:
    times = np.arange(1.0, 21.0)  # 20 events: S = 0.5 exactly between the 10th and 11th
    med = an.median_time(survival_run(times, [True] * 20), "progression_time")
    assert med["median"].item() == np.median(times) == 10.5


# --- log-rank: 6-MP versus placebo ----------------------------------------------------------------
def test_logrank_matches_the_textbook_value(mp: xr.Dataset, placebo: xr.Dataset) -> None:
    table = an.compare({"6-MP": mp, "placebo": placebo}, event="progression_time")
    assert table["logrank_chi2"].iloc[0] == pytest.approx(16.79, abs=5e-3)
    assert table["logrank_df"].iloc[0] == 1
    assert table["logrank_p"].iloc[0] == pytest.approx(stats.chi2.sf(16.793, 1), rel=1e-3)
    assert list(table.index) == ["6-MP", "placebo"]
    assert table.loc["placebo", "n_event"] == 21
    assert table.loc["6-MP", "median"] == 23.0


def test_logrank_agrees_with_scipy_on_random_censored_samples() -> None:
    rng = np.random.default_rng(5)
    x = rng.exponential(1.0, 40).round(1)  # rounded: ties
    y = rng.exponential(1.5, 30).round(1)
    cx = rng.random(40) < 0.3
    cy = rng.random(30) < 0.3
    chi2, df, p = an.logrank_test([x, y], [~cx, ~cy])
    ref = stats.logrank(
        stats.CensoredData(uncensored=x[~cx], right=x[cx]),
        stats.CensoredData(uncensored=y[~cy], right=y[cy]),
    )
    assert chi2 == pytest.approx(ref.statistic**2, rel=1e-9)
    assert p == pytest.approx(ref.pvalue, rel=1e-6)
    assert df == 1
    chi2_3, df3, p3 = an.logrank_test([x, y, x], [~cx, ~cy, ~cx])
    assert df3 == 2
    assert p3 == pytest.approx(stats.chi2.sf(chi2_3, 2), rel=1e-9)


def test_logrank_leaves_out_a_group_never_at_risk_at_an_event_time(
    mp: xr.Dataset, placebo: xr.Dataset
) -> None:
    # Every replicate of "gone" is censored before the first event (t = 1): as in R's survdiff,
    # it adds nothing to the test, neither to chi2 nor to df.
    gone = survival_run([0.5, 0.5, 0.8], [False] * 3)
    ref = an.compare({"6-MP": mp, "placebo": placebo}, event="progression_time")
    for data in (
        {"6-MP": mp, "placebo": placebo, "gone": gone},
        {"6-MP": mp, "gone": gone, "placebo": placebo},
    ):
        table = an.compare(data, event="progression_time")
        assert table["logrank_df"].tolist() == [1, 1, 1]
        assert table["logrank_chi2"].iloc[0] == pytest.approx(ref["logrank_chi2"].iloc[0])
        assert table["logrank_p"].iloc[0] == pytest.approx(ref["logrank_p"].iloc[0])
    chi2, df, p = an.logrank_test([[2.0, 3.0], [0.5]], [[True, True], [False]])
    assert df == 0
    assert np.isnan(chi2)
    assert np.isnan(p)


@pytest.mark.parametrize("df", [1, 2, 3, 7.5, 40])
@pytest.mark.parametrize("x", [0.0, 1e-3, 0.5, 2.0, 16.79, 60.0, 300.0])
def test_chi2_sf_matches_scipy(x: float, df: float) -> None:
    assert an.chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-10, abs=1e-300)


# --- extinction probability -----------------------------------------------------------------------
def test_wilson_interval_hand_computed() -> None:
    lo, hi = an.wilson_interval(3, 10)
    assert (float(lo), float(hi)) == pytest.approx((0.10779, 0.60322), abs=1e-5)
    lo, hi = an.wilson_interval(0, 10)
    assert (float(lo), float(hi)) == pytest.approx((0.0, 0.27753), abs=1e-5)
    lo, hi = an.wilson_interval(10, 10)
    assert (float(lo), float(hi)) == pytest.approx((0.72247, 1.0), abs=1e-5)
    lo, hi = an.wilson_interval(0, 0)
    assert np.isnan(lo)
    assert np.isnan(hi)


def test_extinction_probability_counts_and_interval() -> None:
    ds = make_run(status=[1, 1, 0, 0, 3, 0, 1, 0, 0, 0], t_end=40.0)
    ds["stop_time"][4] = 12.0
    ep = an.extinction_probability(ds)
    assert ep["n"].item() == 10
    assert ep["n_extinct"].item() == 3
    assert ep["n_capped"].item() == 1
    assert ep["probability"].item() == pytest.approx(0.3)
    assert (ep["lower"].item(), ep["upper"].item()) == pytest.approx((0.10779, 0.60322), abs=1e-5)
    cp = an.extinction_probability(ds, method="clopper-pearson")
    ref = stats.binomtest(3, 10).proportion_ci(0.95, method="exact")
    assert (cp["lower"].item(), cp["upper"].item()) == pytest.approx((ref.low, ref.high))


def test_replicates_never_written_are_ignored() -> None:
    ds = make_run(status=[1, 0, 0, 0])
    ds["status"][3] = 0
    ds["stop_time"][3] = np.nan  # e.g. a block of an interrupted store not yet written
    ep = an.extinction_probability(ds)
    assert ep["n"].item() == 3
    assert ep["n_extinct"].item() == 1


# --- censoring ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def censoring() -> xr.Dataset:
    # A progresses at 2; B extinct at 3; C completes, no event; D capped at 4; E progresses at 6.
    return make_run(
        status=[0, 1, 0, 3, 0],
        extinction_time=[np.nan, 3.0, np.nan, np.nan, np.nan],
        stop_time=[10.0, 3.0, 10.0, 4.0, 10.0],
        progression_time=[2.0, np.nan, np.nan, np.nan, 6.0],
        times=(0.0, 5.0, 10.0),
        t_end=10.0,
    )


def test_censoring_extinct_replicates_stay_at_risk_until_t_end(censoring: xr.Dataset) -> None:
    km = an.kaplan_meier(censoring, "progression_time")
    assert km["time"].values.tolist() == [0.0, 2.0, 6.0]
    assert km["at_risk"].values.tolist() == [5, 5, 3]  # B (extinct) still at risk at 6, D not
    assert km["survival"].values == pytest.approx([1.0, 0.8, 0.8 * 2 / 3])
    se = 0.8 * 2 / 3 * math.sqrt(1 / (5 * 4) + 1 / (3 * 2))
    assert km["std_error"].sel(time=6).item() == pytest.approx(se)


def test_censoring_extinct_replicates_at_extinction(censoring: xr.Dataset) -> None:
    km = an.kaplan_meier(censoring, "progression_time", extinct="censor")
    assert km["at_risk"].values.tolist() == [5, 5, 2]
    assert km["survival"].values == pytest.approx([1.0, 0.8, 0.4])


def test_censoring_of_extinction_and_of_absent_events(censoring: xr.Dataset) -> None:
    km = an.kaplan_meier(censoring, "extinction_time")
    assert km["time"].values.tolist() == [0.0, 3.0]
    assert km["survival"].values == pytest.approx([1.0, 0.8])
    assert km["at_risk"].values.tolist() == [5, 5]
    km = an.kaplan_meier(censoring, "first_mutant_time")
    assert km["time"].values.tolist() == [0.0]
    assert km["survival"].item() == 1.0
    assert km["n_events"].item() == 0
    assert np.isnan(an.median_time(censoring, "first_mutant_time")["median"].item())


def test_a_run_without_replicates_is_refused_by_name(censoring: xr.Dataset) -> None:
    empty = censoring.isel(replicate=slice(0, 0))
    for call in (
        lambda: an.kaplan_meier(empty, "progression_time"),
        lambda: an.probability_by(empty, 3.0, "progression_time"),
        lambda: an.median_time(empty, "progression_time"),
    ):
        with pytest.raises(InvalidRunError, match="the Dataset has no replicates"):
            call()


@pytest.mark.parametrize(("k", "n"), [(5, 3), (-1, 3), (2, math.inf), ([1, 4], [3, 3])])
def test_wilson_refuses_successes_outside_the_trials(k: Any, n: Any) -> None:
    with pytest.raises(InvalidRunError, match="successes must be from 0 to n"):
        an.wilson_interval(k, n)


@pytest.mark.parametrize("t", ["10", -1.0, math.nan, True])
def test_probability_by_refuses_a_time_that_is_not_one(censoring: xr.Dataset, t: Any) -> None:
    with pytest.raises(InvalidRunError, match="t must be a finite time >= 0"):
        an.probability_by(censoring, t, "progression_time")


def test_unknown_event_is_refused(censoring: xr.Dataset) -> None:
    with pytest.raises(ValueError, match="event must be one of"):
        an.kaplan_meier(censoring, "stop_time")  # type: ignore[arg-type]


# --- probability of an event by time t -----------------------------------------------------------
def test_probability_by_without_censoring_is_the_binomial_fraction_with_wilson(
    censoring: xr.Dataset,
) -> None:
    # By t = 3 nobody was censored (D is capped at 4; B, extinct, is known never to progress).
    p = an.probability_by(censoring, 3.0, "progression_time")
    assert p["method"].item() == "wilson"
    assert (p["n"].item(), p["n_event"].item(), p["n_censored"].item()) == (5, 1, 0)
    assert p["probability"].item() == 0.2
    ref = stats.binomtest(1, 5).proportion_ci(0.95, method="wilson")
    assert (p["lower"].item(), p["upper"].item()) == pytest.approx((ref.low, ref.high))
    assert an.probability_by(censoring, 1.0, "progression_time")["probability"].item() == 0.0


def test_probability_by_with_censoring_is_one_minus_kaplan_meier(mp: xr.Dataset) -> None:
    # 6-MP arm: S(10) = 0.7529 (Freireich et al.; Kalbfleisch & Prentice), censored at 6 and 9.
    p = an.probability_by(mp, 10.0, "progression_time")
    assert p["method"].item() == "kaplan-meier"
    assert p["n_censored"].item() == 2
    assert p["probability"].item() == pytest.approx(1 - 0.7529, abs=5e-5)
    km = an.kaplan_meier(mp, "progression_time").sel(time=10.0)
    assert p["lower"].item() == pytest.approx(1 - km["upper"].item())
    assert p["upper"].item() == pytest.approx(1 - km["lower"].item())
    ci = an.cumulative_incidence(mp, "progression_time")
    np.testing.assert_allclose(ci["probability"], 1 - an.kaplan_meier(mp)["survival"])
    assert ci["probability"].sel(time=10.0).item() == p["probability"].item()


def test_probability_by_beyond_the_follow_up_is_unknown(censoring: xr.Dataset) -> None:
    assert np.isnan(an.probability_by(censoring, 11.0, "progression_time")["probability"].item())
    with pytest.raises(ValueError, match="t must be a finite time"):
        an.probability_by(censoring, -1.0, "progression_time")


def test_compare_has_the_probability_of_the_event_by_a_time(
    mp: xr.Dataset, placebo: xr.Dataset
) -> None:
    table = an.compare({"6-MP": mp, "placebo": placebo}, event="progression_time", at=10.0)
    assert table.attrs["at"] == 10.0
    by = an.probability_by({"6-MP": mp, "placebo": placebo}, 10.0, "progression_time")
    np.testing.assert_array_equal(table["p_event"], by["probability"])
    assert list(table["p_event_method"]) == ["kaplan-meier", "wilson"]
    assert table.loc["placebo", "p_event"] == pytest.approx(13 / 21)  # no censoring: k / n
    assert an.compare(mp).attrs["at"] == 40.0  # default: t_end


def extinct_by_z(death: float, n: int, seed: int = 21) -> float:
    """z of P(extinct by 1.5) of a run to t = 3 against Kendall's value for birth 1, death 0.5."""
    model = {"states": ["N"], "division": {"N": 1.0}, "death": {"N": death}}
    ds = dg.simulate(model, "off", initial={"N": 1}, t_end=3.0, n_replicates=n, seed=seed)
    p = an.probability_by(ds, 1.5, "extinction_time")
    assert p["method"].item() == "wilson"  # nobody is censored: the binomial fraction
    exact, _ = kendall_alpha_beta(1.0, 0.5, 1.5)
    assert p["lower"].item() < p["probability"].item() < p["upper"].item()
    return z_proportion(int(p["n_event"].item()), n, exact)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=3000, deep_n=45_000))
def test_probability_of_extinction_by_t_matches_kendall(factor: float, n: int) -> None:
    # Sized for >= 99.9% power against a death rate off by `factor` at alpha = 0.001.
    assert abs(extinct_by_z(0.5, n)) < Z_CRIT
    assert abs(extinct_by_z(0.5 * factor, n)) > Z_CRIT


def test_cli_summary_prints_the_probabilities_by_t_end(run: xr.Dataset) -> None:
    out = io.StringIO()
    _summarise_probabilities(run, out)
    text = out.getvalue()
    assert "probability by t = 12 day [95% CI]:" in text
    p = an.probability_by(run, 12.0, "progression_time")
    line = f"progression   {p['probability'].item():.4g} [{p['lower'].item():.4g}, "
    assert line in text
    assert "first mutant" in text
    assert "extinction" in text


# --- persister fraction ---------------------------------------------------------------------------
def test_persister_fraction_ignores_unknown_and_empty() -> None:
    counts = np.array(
        [
            [[3, 1], [1, 1]],  # 0.25, 0.5
            [[1, 1], [0, 0]],  # 0.5, extinct (total 0: left out)
            [[0, 2], [-1, -1]],  # 1.0, unknown after a cap: left out
            [[2, 0], [1, 3]],  # 0.0, 0.75
        ]
    )
    ds = make_run(
        status=[0, 1, 3, 0],
        extinction_time=[np.nan, 1.0, np.nan, np.nan],
        stop_time=[1.0, 1.0, 0.5, 1.0],
        counts=counts,
        times=(0.0, 1.0),
        t_end=1.0,
    )
    pf = an.persister_fraction(ds, quantiles=(0.0, 0.5, 1.0))
    assert pf["n"].values.tolist() == [4, 2]
    assert pf["mean"].values == pytest.approx([0.4375, 0.625])
    assert pf["fraction"].sel(quantile=0.5).values == pytest.approx([0.375, 0.625])
    assert pf["fraction"].sel(quantile=0.0).values == pytest.approx([0.0, 0.5])
    assert pf["fraction"].dims == ("quantile", "time")
    pf = an.persister_fraction(ds, states="S", total=("S", "P"))
    assert pf["mean"].values == pytest.approx([1 - 0.4375, 1 - 0.625])
    with pytest.raises(ValueError, match="unknown cell state"):
        an.persister_fraction(ds, states=("X",))
    with pytest.raises(InvalidRunError, match=r"states \['P'\] are not all in total \['S'\]"):
        an.persister_fraction(ds, states="P", total="S")


# --- leading dimensions ---------------------------------------------------------------------------
def test_leading_dimension_is_preserved(
    trial: xr.Dataset, mp: xr.Dataset, placebo: xr.Dataset
) -> None:
    km = an.kaplan_meier(trial, "progression_time")
    assert km["survival"].dims == ("schedule.off", "time")
    assert km["n"].dims == ("schedule.off",)
    for off, single in ((7, mp), (14, placebo)):
        one = an.kaplan_meier(single, "progression_time")
        point = km.sel({"schedule.off": off}).sel(time=one["time"])
        np.testing.assert_allclose(point["survival"], one["survival"])
        np.testing.assert_allclose(point["upper"], one["upper"])
        np.testing.assert_array_equal(point["at_risk"], one["at_risk"])
    med = an.median_time(trial, "progression_time")
    assert med["median"].sel({"schedule.off": 7}).item() == 23.0
    assert med["median"].sel({"schedule.off": 14}).item() == 8.0
    ep = an.extinction_probability(trial)
    assert ep["n"].dims == ("schedule.off",)
    assert an.extinction_probability(trial, by=[])["n"].item() == 42
    pf = an.persister_fraction(trial)
    assert pf["fraction"].dims == ("quantile", "schedule.off", "time")


def test_compare_along_a_sweep_dimension(
    trial: xr.Dataset, mp: xr.Dataset, placebo: xr.Dataset
) -> None:
    table = an.compare(trial, event="progression_time")
    assert table.index.name == "schedule.off"
    assert list(table.index) == [7, 14]
    ref = an.compare({"a": mp, "b": placebo}, event="progression_time")
    np.testing.assert_allclose(table["logrank_chi2"], ref["logrank_chi2"])
    np.testing.assert_allclose(table["median"].to_numpy(), [23.0, 8.0])
    # A second leading dimension: strata, the log-rank test within each.
    two = xr.concat([trial, trial], dim=pd.Index(["a", "b"], name="arm"))
    table = an.compare(two, dim="schedule.off", event="progression_time")
    assert table.index.names == ["arm", "schedule.off"]
    assert len(table) == 4
    np.testing.assert_allclose(table["logrank_chi2"], ref["logrank_chi2"].iloc[0])
    with pytest.raises(ValueError, match="several leading dims"):
        an.compare(two)


# --- a real run -----------------------------------------------------------------------------------
MODEL = SPR_GROWING
SCHEDULE = {"kind": "intermittent", "on": 2, "off": 1}
RUN: dict[str, Any] = {
    "initial": {"S": 6, "P": 1},
    "t_end": 12.0,
    "record_every": 0.5,
    "n_replicates": 400,
    "seed": 3,
    "progression": {"factor": 2.0, "min_size": 0},
}


@pytest.fixture(scope="module")
def run() -> xr.Dataset:
    return dg.simulate(MODEL, SCHEDULE, **RUN)


def test_real_run_estimates_equal_empirical_fractions(run: xr.Dataset) -> None:
    status = run["status"].values
    assert 0 < np.mean(status == 1) < 1
    assert not np.isin(status, [2, 3]).any()
    ep = an.extinction_probability(run)
    assert ep["probability"].item() == np.mean(status == 1)
    prog = run["progression_time"].values
    km = an.kaplan_meier(run, "progression_time")
    # Without caps every replicate is followed to t_end: KM is the empirical distribution.
    assert 1 - km["survival"].isel(time=-1).item() == pytest.approx(np.mean(np.isfinite(prog)))
    t = 5.0
    s_t = km["survival"].sel(time=t, method="ffill").item()
    assert s_t == pytest.approx(np.mean(~(prog <= t)))
    km_ext = an.kaplan_meier(run, "extinction_time")
    assert 1 - km_ext["survival"].isel(time=-1).item() == pytest.approx(np.mean(status == 1))
    # More than half progressed: the KM median is the sample median (never = later than any).
    med = an.median_time(run, "progression_time")
    expected = np.median(np.where(np.isfinite(prog), prog, np.inf))
    assert np.isfinite(expected)
    assert med["median"].item() == pytest.approx(expected)
    assert med["lower"].item() <= expected <= med["upper"].item()
    # Few have a mutant: the median is not reached.
    assert np.mean(np.isfinite(run["first_mutant_time"])) < 0.5
    assert np.isnan(an.median_time(run, "first_mutant_time")["median"].item())
    pf = an.persister_fraction(run)
    assert pf["fraction"].sel(quantile=0.5).isel(time=0).item() == pytest.approx(1 / 7)


def test_real_run_exposure(run: xr.Dataset) -> None:
    assert an.treating_exposures(run) == ["on"]
    on = an.on_drug_fraction(run)
    t = run["time"].values
    np.testing.assert_array_equal(on.values, ((t % 3) < 2).astype(float))


def test_treating_exposures_is_the_schedules_and_does_not_hide_bugs(
    run: xr.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert an.treating_exposures(make_run(status=[0])) == ["on"]  # no attrs: by the names
    monkeypatch.setattr(Schedule, "treating", lambda self, model: [True] * len(model.exposures))
    assert an.treating_exposures(run) == ["off", "on"]

    def broken(self: Schedule, model: Any) -> str:
        raise RuntimeError("a bug")

    monkeypatch.undo()
    monkeypatch.setattr(Schedule, "off_exposure", broken)  # called by Schedule.treating
    with pytest.raises(RuntimeError, match="a bug"):
        an.treating_exposures(run)


def test_summary_only_runs_are_refused_where_trajectories_are_needed() -> None:
    summary = dg.simulate(MODEL, SCHEDULE, summary_only=True, **{**RUN, "n_replicates": 20})
    match = "needs full trajectories .*'{}'.*a summary"
    with pytest.raises(InvalidRunError, match="persister_fraction " + match.format("count")):
        an.persister_fraction(summary)
    with pytest.raises(InvalidRunError, match="on_drug_fraction " + match.format("exposure")):
        an.on_drug_fraction(summary)


def test_stored_run_gives_the_same_analysis(run: xr.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.write_run(run, path)
    stored = dg.open_run(path)
    xr.testing.assert_allclose(
        an.kaplan_meier(stored, "progression_time"), an.kaplan_meier(run, "progression_time")
    )
    pd.testing.assert_frame_equal(an.compare({"a": stored}), an.compare({"a": run}))


def test_dict_of_runs_of_different_sizes(mp: xr.Dataset) -> None:
    small = make_run(status=[1, 0, 1], t_end=40.0)
    table = an.compare({"mp": mp, "small": small}, event="progression_time")
    assert table["n"].tolist() == [21, 3]
    assert table["n_extinct"].tolist() == [0, 2]
    km = an.kaplan_meier({"mp": mp, "small": small}, "progression_time")
    assert km["n"].values.tolist() == [21, 3]
    assert km["survival"].sel(group="small").values == pytest.approx(1.0)


def test_dict_of_runs_with_different_t_end() -> None:
    # Extinct replicates stay at risk until their own run's t_end (10), not the other's (30).
    short = make_run(
        status=[1, 1, 0, 0], progression_time=[np.nan, np.nan, 5.0, np.nan], t_end=10.0
    )
    long = make_run(status=[1, 0, 0], progression_time=[np.nan, 20.0, np.nan], t_end=30.0)
    data = {"short": short, "long": long}
    km = an.kaplan_meier(data, "progression_time")
    assert km["time"].values.tolist() == [0.0, 5.0, 20.0]
    assert km["at_risk"].sel(group="short").values.tolist() == [4, 4, 0]
    assert km["at_risk"].sel(group="long").values.tolist() == [3, 3, 3]
    for name, ds in data.items():
        alone = an.kaplan_meier(ds, "progression_time")
        point = km.sel(group=name).sel(time=alone["time"])
        np.testing.assert_array_equal(point["at_risk"], alone["at_risk"])
        np.testing.assert_allclose(point["survival"], alone["survival"])
    assert km.attrs["t_end"] == 30.0
    table = an.compare(data, event="progression_time")
    assert table["n_event"].tolist() == [1, 1]


# --- endpoints the run did not track (issue 14, item 5) ------------------------------------------
UNTRACKED_RUN: dict[str, Any] = {
    "initial": {"S": 6, "P": 1},
    "t_end": 12.0,
    "record_every": 0.5,
    "n_replicates": 40,
    "seed": 3,
}


def test_an_untracked_progression_endpoint_is_refused_with_how_to_track_it() -> None:
    schedule = {"kind": "intermittent", "on": 2, "off": 1}
    untracked = dg.simulate(SPR_GROWING, schedule, **UNTRACKED_RUN)
    tracked = dg.simulate(
        SPR_GROWING, schedule, **UNTRACKED_RUN, progression={"factor": 2.0, "min_size": 0}
    )
    # The tracked run has progressions, so a refusal is not about an empty endpoint.
    assert int(np.isfinite(tracked["progression_time"]).sum()) > 0
    assert int(an.kaplan_meier(tracked, "progression_time")["n_events"]) > 0
    calls = {
        "kaplan_meier": lambda d: an.kaplan_meier(d, "progression_time"),
        "median_time": lambda d: an.median_time(d, "progression_time"),
        "compare": lambda d: an.compare(d, event="progression_time"),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidRunError, match=r"progression_time was not tracked.*min_size"):
            call(untracked)
        # Named groups: the message names the group that did not track it.
        with pytest.raises(InvalidRunError, match=r"group 'plain'"):
            call({"tracked": tracked, "plain": untracked})
        assert call({"tracked": tracked, "again": tracked}) is not None, name
    # Endpoints every run tracks still work on the untracked run.
    for event in ("first_mutant_time", "extinction_time"):
        assert int(an.kaplan_meier(untracked, event)["n"]) == UNTRACKED_RUN["n_replicates"]


def first_progression_in_trace(trace: dict[str, Any], factor: float, min_size: float) -> float:
    """The first event of a trace at which the burden (every cell) is >= factor x its nadir so
    far and >= min_size, NaN if none: the definition, independent of the engine."""
    nadir = math.inf
    for t, counts in zip(trace["time"], trace["count"], strict=True):
        burden = float(np.sum(counts))
        nadir = min(nadir, burden)
        if burden >= factor * nadir and burden >= min_size and burden > 0:
            return float(t)
    return math.nan


def test_progression_min_size_is_exact_against_a_traced_trajectory() -> None:
    # One cell line killed by the drug for 4 days, then off drug: the tumour shrinks to a few
    # cells and regrows, so "2 x nadir" alone fires at a few cells and min_size later.
    model = {
        "states": ["S"],
        "exposures": ["off", "on"],
        "division": {"S": 0.6},
        "death": {"S": {"off": 0.1, "on": 1.6}},
    }
    schedule = {"kind": "piecewise", "segments": [[0, "on"], [4, "off"]]}
    kw: dict[str, Any] = {"initial": {"S": 40}, "t_end": 20.0}
    seen_trap = 0
    for seed in range(8):
        trace = dg.trace(model, schedule, seed=seed, **kw)
        times = {}
        for min_size in (0.0, 200.0):
            ds = dg.simulate(
                model,
                schedule,
                seed=seed,
                record_every=20.0,
                progression={"factor": 2.0, "min_size": min_size},
                **kw,
            )
            got = float(ds["progression_time"][0])
            expected = first_progression_in_trace(trace, 2.0, min_size)
            assert np.isnan(got) == np.isnan(expected), (seed, min_size)
            if not np.isnan(expected):
                assert got == expected, (seed, min_size)  # exact: an event time of the trace
            times[min_size] = got
        # The floor moves progression later (or past t_end) whenever the nadir was small.
        if not np.isnan(times[0.0]) and times[0.0] != times[200.0]:
            seen_trap += 1
            assert np.isnan(times[200.0]) or times[200.0] > times[0.0]
    assert seen_trap > 0  # the test saw min_size change a progression time
