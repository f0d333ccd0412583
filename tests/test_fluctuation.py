"""The fluctuation test (``dg.analysis.fluctuation_test``, ``luria_delbruck_pmf``).

- The estimator against a published implementation on published data: rSalvador's Python port
  (Qi Zheng), repository ``eeeeeric/rSalvador``, file ``pysalvador/userManual.ipynb`` (pySalvador
  0.1 user manual, the outputs of ``newtonLD``, ``confintLD``, ``newtonLD_plating`` and
  ``confintLD_plating``; the same algorithms as rSalvador's ``newton.LD`` and ``confint.LD``).
  The data sets are rSalvador's ``demerec.data`` (Demerec 1945, N_t = 1.9e8,
  ``rsalvador/man/demerec.data.Rd``) and ``luria.16.data`` (Luria & Delbrück 1943, experiment 16,
  plating efficiency 0.4, ``rsalvador/man/luria.16.data.Rd``).
- The pmf: exact first terms, total mass, and a brute-force simulation of the Lea–Coulson process.
- Statistics (fixed seeds, tolerances from standard errors, each with a rejection twin, two tiers):
  fluctuation experiments simulated with dtp_gillespie itself (S divides, a mutation S -> R at
  division with probability mu, R divides; one replicate = one culture from N0 cells) recover the
  known m; the 95% intervals cover it; the dispersion test rejects Poisson for Luria–Delbrück data
  and holds its level on Poisson-like (induced) data.
"""

import math

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from dtp_gillespie.analysis import chi2_sf, fluctuation_test, luria_delbruck_pmf
from dtp_gillespie.errors import InvalidRunError
from oracles import Z_CRIT, tiers, z_proportion
from scipy.stats import chi2

# --- published data and reference values ----------------------------------------------------------
DEMEREC = [33, 18, 839, 47, 13, 126, 48, 80, 9, 71, 196, 66, 28, 17, 27,
           37, 126, 33, 12, 44, 28, 67, 730, 168, 44, 50, 583, 23, 17, 24]  # fmt: skip
LURIA_16 = [1, 0, 3, 0, 0, 5, 0, 5, 0, 6, 107, 0, 0, 0, 1, 0, 0, 64, 0, 35]
SMALL = [0, 16, 20, 2, 2, 56, 3, 161, 9]  # the manual's "your own data" example


@pytest.mark.parametrize(
    ("counts", "plating", "m", "lower", "upper"),
    [
        (DEMEREC, 1.0, 10.843826994529076, 8.650538086656915, 13.194764931218975),
        (LURIA_16, 0.4, 1.1863601798967804, 0.5803079099944009, 2.0908012351381497),
        (SMALL, 1.0, 2.7310734581090395, 1.3853464760072198, 4.598170103420021),
    ],
    ids=["demerec", "luria-delbruck-16", "nine-cultures"],
)
def test_maximum_likelihood_and_interval_match_rsalvador(
    counts: list[int], plating: float, m: float, lower: float, upper: float
) -> None:
    r = fluctuation_test(counts, plating=plating)
    assert float(r["m"]) == pytest.approx(m, rel=1e-8)
    assert float(r["m_lower"]) == pytest.approx(lower, rel=1e-8)
    assert float(r["m_upper"]) == pytest.approx(upper, rel=1e-8)


def test_mutation_rate_is_m_over_the_final_cell_number() -> None:
    r = fluctuation_test(DEMEREC, n_final=1.9e8)
    assert float(r["mutation_rate"]) == pytest.approx(10.843826994529076 / 1.9e8, rel=1e-8)
    assert float(r["rate_lower"]) == pytest.approx(8.650538086656915 / 1.9e8, rel=1e-8)
    assert float(r["rate_upper"]) == pytest.approx(13.194764931218975 / 1.9e8, rel=1e-8)
    assert r.attrs["n_final"] == 1.9e8
    assert "mutation_rate" not in fluctuation_test(DEMEREC)


def test_moments_and_the_dispersion_test_on_demerec() -> None:
    r = fluctuation_test(DEMEREC)
    x = np.array(DEMEREC, dtype=float)
    assert float(r["mean"]) == pytest.approx(x.mean())
    assert float(r["variance"]) == pytest.approx(x.var(ddof=1))
    assert float(r["fano"]) == pytest.approx(x.var(ddof=1) / x.mean())
    assert float(r["dispersion"]) == pytest.approx(((x - x.mean()) ** 2).sum() / x.mean())
    assert float(r["p_poisson"]) < 1e-12  # jackpots: Poisson is out of the question
    assert float(r["log_likelihood_ratio"]) > 100
    assert int(r["n_cultures"]) == 30


def test_all_empty_cultures_give_m_zero_and_the_likelihood_ratio_upper_limit() -> None:
    r = fluctuation_test([0] * 40, confidence=0.95)
    assert float(r["m"]) == 0.0
    assert float(r["m_lower"]) == 0.0
    # l(m) = -40 m: the limit where 2 * 40 * m = the chi-square(1) 95% quantile
    assert float(r["m_upper"]) == pytest.approx(1.959963984540054**2 / 80, rel=1e-6)
    assert math.isnan(float(r["fano"]))
    assert math.isnan(float(r["p_poisson"]))


# --- the pmf --------------------------------------------------------------------------------------
def test_pmf_first_terms_are_exact() -> None:
    m = 1.7
    p = luria_delbruck_pmf(m, 2)
    assert p[0] == pytest.approx(math.exp(-m), rel=1e-14)
    assert p[1] == pytest.approx(m / 2 * math.exp(-m), rel=1e-14)
    assert p[2] == pytest.approx((m / 6 + m * m / 8) * math.exp(-m), rel=1e-14)
    e = 0.3  # a clone is unseen with probability 1 + e log(e) / (1 - e) (Stewart 1990)
    p0 = luria_delbruck_pmf(m, 0, plating=e)[0]
    assert p0 == pytest.approx(math.exp(m * e * math.log(e) / (1 - e)), rel=1e-14)


@pytest.mark.parametrize(("plating", "phi"), [(1.0, 1.0), (0.3, 1.0), (0.8, 1.0), (1.0, 0.99)])
def test_pmf_sums_to_one_up_to_its_known_tail(plating: float, phi: float) -> None:
    m, n = 2.5, 5000
    p = luria_delbruck_pmf(m, n, plating=plating, phi=phi)
    assert (p > 0).all()
    if phi < 1:  # clone sizes have a geometric tail: nothing is left beyond n
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
    else:  # P(X > n) ~ m e / n: the Lea–Coulson clone law has P(size > k) = 1 / (k + 1)
        assert (1.0 - p.sum()) * n / (m * plating) == pytest.approx(1.0, rel=0.01)


def lea_coulson_sample(
    m: float, n: int, rng: np.random.Generator, plating: float = 1.0, phi: float = 1.0
) -> np.ndarray:
    """Brute force: Poisson(m) mutations per culture; a mutation at relative age u = exp(-b a),
    u uniform on (1 - phi, 1], founds a Yule clone of geometric size with mean 1/u; each cell is
    plated with probability ``plating``."""
    clones = rng.poisson(m, n)
    u = 1.0 - phi * rng.random(clones.sum())
    sizes = rng.binomial(rng.geometric(u), plating)
    owner = np.repeat(np.arange(n), clones)
    return np.bincount(owner, weights=sizes, minlength=n).astype(np.int64)


def chi2_p(sample: np.ndarray, pmf: np.ndarray) -> float:
    """Goodness of fit of ``sample`` to ``pmf`` (bins merged so that each expects >= 5)."""
    n = sample.size
    top = int(np.searchsorted(np.cumsum(pmf), 1 - 5 / n))  # the tail bin expects >= 5
    expected = np.append(n * pmf[:top], n * (1 - pmf[:top].sum()))
    observed = np.append(np.bincount(np.minimum(sample, top), minlength=top + 1)[:top], 0)
    observed[-1] = n - observed[:-1].sum()
    keep = expected >= 5
    stat = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    return chi2_sf(stat, int(keep.sum()) - 1)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=20_000, deep_n=300_000))
@pytest.mark.parametrize(
    ("m", "plating", "phi"), [(2.0, 1.0, 1.0), (3.0, 0.4, 1.0), (2.0, 1.0, 0.98)]
)
def test_pmf_matches_a_brute_force_lea_coulson_process(
    factor: float, n: int, m: float, plating: float, phi: float
) -> None:
    sample = lea_coulson_sample(m, n, np.random.default_rng(11), plating, phi)
    assert chi2_p(sample, luria_delbruck_pmf(m, 4000, plating, phi)) > 0.001
    assert chi2_p(sample, luria_delbruck_pmf(m * factor, 4000, plating, phi)) < 0.001


# --- fluctuation experiments simulated with dtp_gillespie -----------------------------------------
def mutation_model(mu: float) -> dg.Model:
    return dg.Model.from_dict(
        {
            "states": ["S", {"name": "R", "genetic": True}],
            "exposures": ["none"],
            "division": {"S": 1.0, "R": 1.0},
            "death": {"S": 0.0, "R": 0.0},
            "mutation": [{"from": "S", "to": "R", "probability": mu}],
        }
    )


def cultures(n0: int, growth: float, mu: float, n: int, seed: int) -> tuple[xr.Dataset, float]:
    """``n`` cultures grown from ``n0`` cells by a factor ``growth``; and the exact expected
    number of mutations m: each S division mutates with probability mu and S grows at rate
    1 - mu, so E[S divisions] = n0 (exp((1 - mu) t) - 1) / (1 - mu)."""
    t = math.log(growth)
    ds = dg.simulate(
        mutation_model(mu), "none", initial={"S": n0}, t_end=t, times=[t], n_replicates=n, seed=seed
    )
    return ds, mu * n0 * (math.exp((1 - mu) * t) - 1) / (1 - mu)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=600, deep_n=8000))
def test_simulated_experiments_recover_the_known_m(factor: float, n: int) -> None:
    # N0 = 1000 keeps the non-mutant growth nearly deterministic (the Lea–Coulson assumption:
    # a random S path spreads m across cultures by 1/sqrt(N0)); n_initial gives the law of
    # growth by a factor 100 only. The standard error comes from the 95% likelihood interval.
    n0, growth = 1000, 100.0
    ds, m_true = cultures(n0, growth, 5e-5, n, seed=3)
    r = fluctuation_test(ds, "R", n_final=n0 * growth, n_initial=n0)
    m, se = float(r["m"]), float(r["m_upper"] - r["m_lower"]) / (2 * 1.959964)
    assert abs(m - m_true) / se < Z_CRIT
    assert abs(m - factor * m_true) / se > Z_CRIT


def coverage(n_experiments: int, n_cultures: int, confidence: float, seed: int) -> tuple[int, int]:
    """(intervals covering the true m, LD experiments where the dispersion test rejects Poisson
    at alpha = 0.001) over experiments of ``n_cultures`` cultures each."""
    n0, growth = 200, 100.0
    ds, m_true = cultures(n0, growth, 1.5e-4, n_experiments * n_cultures, seed)
    counts = ds["count"].sel(cell_state="R").isel(time=-1).to_numpy().reshape(n_experiments, -1)
    hits = rejections = 0
    for x in counts:
        r = fluctuation_test(x, n_final=n0 * growth, n_initial=n0, confidence=confidence)
        hits += float(r["m_lower"]) <= m_true <= float(r["m_upper"])
        rejections += float(r["p_poisson"]) < 0.001
    return hits, rejections


@pytest.mark.parametrize(
    "n_experiments",
    [pytest.param(60, id="ci"), pytest.param(1000, id="deep", marks=pytest.mark.deep)],
)
def test_95_percent_intervals_cover_the_true_m(n_experiments: int) -> None:
    hits, _ = coverage(n_experiments, 20, 0.95, seed=5)
    assert z_proportion(hits, n_experiments, 0.95) > -Z_CRIT
    if n_experiments >= 500:
        assert hits / n_experiments >= 0.94
    # rejection twin: 50% intervals of the same experiments fall far short of 95%
    hits, _ = coverage(n_experiments, 20, 0.50, seed=5)
    assert z_proportion(hits, n_experiments, 0.95) < -Z_CRIT


def test_dispersion_test_rejects_poisson_for_luria_delbruck_data() -> None:
    # Sized: 30 cultures with m = 3 and growth by 100 reject at alpha = 0.001 with power >= 99.9%
    # (the one-sided 99.9% Wilson lower limit over brute-force Lea–Coulson experiments; 20
    # cultures would give only about 99.9%).
    n, cultures_per = 20_000, 30
    rng = np.random.default_rng(2)
    sample = lea_coulson_sample(3.0, n * cultures_per, rng, phi=0.99).reshape(n, -1)
    mean = sample.mean(1)
    d = ((sample - mean[:, None]) ** 2).sum(1) / np.where(mean > 0, mean, np.nan)
    rejected = int(np.sum(d > chi2.isf(0.001, cultures_per - 1)))
    assert dg.analysis.wilson_interval(rejected, n, 0.998)[0] >= 0.999
    # ... and every such experiment simulated with dtp_gillespie rejects.
    _, rejections = coverage(30, cultures_per, 0.95, seed=8)
    assert rejections == 30


def induced_cultures(n: int, seed: int) -> np.ndarray:
    """The induced hypothesis: 2000 cells per culture, none dividing, each turning resistant
    independently during the challenge (probability 1 - exp(-0.005)): Binomial counts, Poisson
    to within a Fano factor of 0.995."""
    model = dg.Model.from_dict(
        {
            "states": ["S", "R"],
            "exposures": ["none"],
            "division": {"S": 0.0, "R": 0.0},
            "death": {"S": 0.0, "R": 0.0},
            "switch": [{"from": "S", "to": "R", "rate": 0.005}],
        }
    )
    ds = dg.simulate(model, "none", initial={"S": 2000}, t_end=1.0, n_replicates=n, seed=seed)
    return ds["count"].sel(cell_state="R").isel(time=-1).to_numpy()


def test_dispersion_test_holds_its_level_on_induced_poisson_counts() -> None:
    n_experiments, alpha = 200, 0.05
    counts = induced_cultures(n_experiments * 20, seed=4).reshape(n_experiments, 20)
    rejected = sum(float(fluctuation_test(x)["p_poisson"]) < alpha for x in counts)
    assert z_proportion(rejected, n_experiments, alpha) < Z_CRIT
    # the twin: the same counts with one jackpot culture each are rejected nearly always
    jackpots = counts[:50].copy()
    jackpots[:, 0] += 200
    rejected = sum(float(fluctuation_test(x)["p_poisson"]) < alpha for x in jackpots)
    assert z_proportion(rejected, 50, alpha) > Z_CRIT


# --- Datasets -------------------------------------------------------------------------------------
def test_a_dataset_is_read_at_the_last_record_time_per_leading_point() -> None:
    ds, _ = cultures(100, 50.0, 2e-4, 40, seed=1)
    x = ds["count"].sel(cell_state="R").isel(time=-1).to_numpy()
    plain = fluctuation_test(x)
    both = xr.concat([ds, ds], dim="dose").assign_coords(dose=[0.0, 1.0])
    r = fluctuation_test(both, "R")
    assert r["m"].dims == ("dose",)
    assert list(r["dose"].values) == [0.0, 1.0]
    assert (r["m"].values == float(plain["m"])).all()
    # an unknown count (-1, after a cap) is left out
    ds["count"].loc[{"replicate": 0, "cell_state": "R"}] = -1
    assert int(fluctuation_test(ds, "R")["n_cultures"]) == 39
    assert float(fluctuation_test(ds, "R")["m"]) == float(fluctuation_test(x[1:])["m"])


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": [3, -1, 2]}, r"counts\[1\] is -1"),
        ({"data": [3, 1.5, 2]}, r"counts\[1\] is 1.5"),
        ({"data": [3, float("nan")]}, r"counts\[1\] is nan"),
        ({"data": [4]}, "counts has 1 culture"),
        ({"data": [[1, 2], [3, 4]]}, "counts is"),
        ({"data": ["a", "b"]}, "counts is"),
        ({"data": [1, 2], "n_final": 0}, "n_final is 0"),
        ({"data": [1, 2], "n_final": -5.0}, "n_final is -5.0"),
        ({"data": [1, 2], "n_initial": 10}, "n_initial is 10; it needs n_final"),
        ({"data": [1, 2], "n_final": 100, "n_initial": 100}, "n_initial is 100"),
        ({"data": [1, 2], "confidence": 1.0}, r"confidence is 1.0; it must be in \(0, 1\)"),
        ({"data": [1, 2], "confidence": 0}, "confidence is 0"),
        ({"data": [1, 2], "confidence": True}, "confidence is True"),
        ({"data": [1, 2], "plating": 0.0}, "plating is 0.0"),
        ({"data": [1, 2], "plating": 0.5, "n_final": 10, "n_initial": 1}, "plating is 0.5"),
        ({"data": [1, 2], "state": "R"}, "state is 'R'; it applies only to a Dataset"),
    ],
)
def test_bad_input_is_refused_naming_the_argument_and_value(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRunError, match=message):
        fluctuation_test(**kwargs)  # type: ignore[arg-type]


def test_bad_dataset_input_is_refused() -> None:
    ds, _ = cultures(10, 10.0, 1e-3, 3, seed=1)
    with pytest.raises(InvalidRunError, match="state is 'Q'; choose the counted state"):
        fluctuation_test(ds, "Q")
    with pytest.raises(InvalidRunError, match="state is None"):
        fluctuation_test(ds)
    ds["count"].loc[{"replicate": [0, 1], "cell_state": "R"}] = -1
    with pytest.raises(InvalidRunError, match="1 culture"):
        fluctuation_test(ds, "R")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1.0, 10), "m is -1.0"),
        ((1.0, -1), "n_max is -1"),
        ((1.0, 10, 1.5), "plating is 1.5"),
        ((1.0, 10**12), r"n_max is 1000000000000; the exact law is computed up to 100000"),
    ],
)
def test_bad_pmf_input_is_refused(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(InvalidRunError, match=message):
        luria_delbruck_pmf(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("jackpot", [100_001, 10**12])
def test_a_count_past_the_exact_law_is_refused_naming_it(jackpot: int) -> None:
    """Not an allocation of terabytes, nor hours of recursion: the largest count is named."""
    named = f"a culture holds {jackpot} mutants; .* up to 100000"
    with pytest.raises(InvalidRunError, match=named):
        fluctuation_test([1, jackpot, 3, 0, 2])
