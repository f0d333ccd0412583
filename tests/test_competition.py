"""Lotka–Volterra competition: the deterministic limit, capacities that depend on other counts,
per-exposure coefficients, the normalised spec and its errors."""

import copy
import math
import warnings
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from dtp_gillespie.errors import CrowdingWarning, InvalidModelError, InvalidScheduleError
from oracles import Z_CRIT, z_mean
from scipy.linalg import expm

# Two competing states on death (birth b_i, death b_i x_i): A's capacity grows with B.
LV: dict[str, Any] = {
    "states": ["A", "B"],
    "exposures": ["off", "on"],
    "division": {"A": 0.3, "B": 0.2},
    "competition": {
        "on": "death",
        "states": {
            "A": {"K": 1000.0, "K_per_cell": {"B": 0.5}, "alpha": {"A": 1.0, "B": 0.6}},
            "B": {"K": {"off": 1500.0, "on": 600.0}, "alpha": {"A": 0.3, "B": 1.0}},
        },
    },
}
LV_INITIAL = {"A": 100, "B": 100}
# Off for 20 days, then "on" (B's capacity drops to 600) for 20 more.
LV_SCHEDULE = {"kind": "piecewise", "segments": [[0, "off"], [20, "on"]]}
LV_TIMES = [10.0, 20.0, 30.0, 40.0]


def lv_ode(
    times: list[float], b: tuple[float, float] = (0.3, 0.2), dt: float = 0.005
) -> np.ndarray:
    """RK4 of dn_i/dt = b_i n_i (1 - C_i / K_i) for LV under LV_SCHEDULE: (len(times), 2)."""

    def rhs(n: np.ndarray, t: float) -> np.ndarray:
        k_b = 1500.0 if t < 20.0 else 600.0
        x_a = (n[0] + 0.6 * n[1]) / (1000.0 + 0.5 * n[1])
        x_b = (0.3 * n[0] + n[1]) / k_b
        return np.array([b[0] * n[0] * (1 - x_a), b[1] * n[1] * (1 - x_b)])

    n = np.array([100.0, 100.0])
    t, out = 0.0, []
    for target in times:
        while t < target - 1e-12:
            h = min(dt, target - t)
            # The breakpoint at 20 is a multiple of dt: no step straddles it.
            k1 = rhs(n, t)
            k2 = rhs(n + h / 2 * k1, t)
            k3 = rhs(n + h / 2 * k2, t)
            k4 = rhs(n + h * k3, t)
            n = n + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += h
        out.append(n.copy())
    return np.array(out)


def _z_scores(ds: Any, reference: np.ndarray) -> np.ndarray:
    counts = ds["count"].sel(time=LV_TIMES).values.astype(float)  # (rep, time, state)
    mean = counts.mean(axis=0)
    se = counts.std(axis=0, ddof=1) / math.sqrt(counts.shape[0])
    return (mean - reference) / se


@pytest.fixture(scope="module")
def lv_ensemble() -> Any:
    return dg.simulate(
        LV, LV_SCHEDULE, initial=LV_INITIAL, t_end=40.0, times=LV_TIMES, n_replicates=400, seed=11
    )


def test_ensemble_mean_tracks_the_lotka_volterra_ode(lv_ensemble: Any) -> None:
    # The mean of the birth-death process differs from the ODE by O(1/K) (a cell or two here),
    # well below the standard error of 400 replicates; |z| < 4.5 at 8 points is a family-wise
    # false-alarm rate below 1e-4.
    z = _z_scores(lv_ensemble, lv_ode(LV_TIMES))
    assert np.abs(z).max() < 4.5, z


@pytest.mark.parametrize("which", [0, 1])
def test_the_same_check_rejects_a_rate_off_by_20_percent(lv_ensemble: Any, which: int) -> None:
    b = [0.3, 0.2]
    b[which] *= 1.2
    z = _z_scores(lv_ensemble, lv_ode(LV_TIMES, b=(b[0], b[1])))
    assert np.abs(z).max() > 4.5, z


def _pure_birth_to_20(t: float, b: float = 1.0) -> tuple[float, float]:
    """Exact mean and variance at t of the pure-birth chain n -> n + 1 at b n (1 - n / 20) from
    n = 1 (Kolmogorov forward equation on 0..20, by the matrix exponential)."""
    n = np.arange(21.0)
    q = np.diag(b * n * (1.0 - n / 20.0))
    generator = np.roll(q, 1, axis=1) - q  # rate i -> i + 1 off the diagonal; 20 is absorbing
    p = expm(generator * t)[1]
    mean = float(p @ n)
    return mean, float(p @ n**2 - mean**2)


A_ON_B: dict[str, Any] = {
    "states": ["A", "B"],
    "division": {"A": 1.0, "B": 1.0},
    "competition": {"states": {"A": {"K_per_cell": {"B": 2.0}}}},
}


def _a_grows_towards_2b() -> Any:
    # B is capped by its own logistic row at its initial count (K = 10): it never divides, so A
    # (capacity 2 x B = 20, no death) is the pure-birth chain of _pure_birth_to_20.
    model = copy.deepcopy(A_ON_B)
    model["competition"]["states"]["B"] = {"K": 10.0}
    kw: dict[str, Any] = {"t_end": 20.0, "times": [5.0, 20.0], "n_replicates": 200, "seed": 2}
    return dg.simulate(model, "off", initial={"A": 1, "B": 10}, **kw)


def test_a_capacity_that_depends_on_an_extinct_population_stops_division() -> None:
    # A's capacity is 2 per cell of B and B is absent: K = 0, so A never divides (on division).
    ds = dg.simulate(A_ON_B, "off", initial={"A": 50}, t_end=10.0, n_replicates=5, seed=1)
    assert (ds["n_events"] == 0).all()
    assert (ds["count"].sel(cell_state="A") == 50).all()
    # With B present, A grows towards 2 x B: exactly, B stays at 10 and A never exceeds 20; in
    # law, the mean of A at t = 5 is the exact mean of the pure-birth chain (|z| <= 3.29).
    ds = _a_grows_towards_2b()
    assert (ds["count"].sel(cell_state="B") == 10).all()
    assert (ds["count"].sel(cell_state="A") <= 20).all()
    a5 = ds["count"].sel(cell_state="A", time=5.0).values.astype(float)
    assert abs(z_mean(a5, *_pure_birth_to_20(5.0))) < Z_CRIT


def test_the_capacity_check_rejects_a_division_rate_off_by_20_percent() -> None:
    ds = _a_grows_towards_2b()
    a5 = ds["count"].sel(cell_state="A", time=5.0).values.astype(float)
    assert abs(z_mean(a5, *_pure_birth_to_20(5.0, b=1.2))) > Z_CRIT


CAP_BASE: dict[str, Any] = {
    "states": ["S", "R"],
    "division": {"S": 0.5, "R": 0.4},
    "death": {"S": 0.1, "R": 0.1},
}
CAP_WEIGHTS = {"S": 1.0, "R": 0.5}
CAP_KW: dict[str, Any] = {"initial": {"S": 50, "R": 50}, "t_end": 15.0, "n_replicates": 400}


def _final_counts(model: dict[str, Any], seed: int) -> np.ndarray:
    ds = dg.simulate(model, "off", seed=seed, **CAP_KW)
    return ds["count"].isel(time=-1).values.astype(float)


def _two_sample_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    return (a.mean(axis=0) - b.mean(axis=0)) / se


def _competition_rows(k: float = 400.0, alpha_r: float = 0.5) -> dict[str, Any]:
    rows = {s: {"K": k, "alpha": {**CAP_WEIGHTS, "R": alpha_r}} for s in ("S", "R")}
    return {**CAP_BASE, "competition": {"on": "division", "states": rows}}


@pytest.fixture(scope="module")
def capacity_final() -> np.ndarray:
    cap = {**CAP_BASE, "capacity": {"K": 400.0, "on": "division", "weights": CAP_WEIGHTS}}
    return _final_counts(cap, seed=3)


def test_capacity_and_equivalent_competition_agree_in_law(capacity_final: np.ndarray) -> None:
    # capacity {K, weights} is competition with the row alpha = weights for every state; the
    # two runs differ only in which uniform picks which channel, so compare means (two-sample z
    # per state; 4.5 as for the ODE check above).
    z = _two_sample_z(capacity_final, _final_counts(_competition_rows(), seed=4))
    assert np.abs(z).max() < 4.5, z


@pytest.mark.parametrize(("k", "alpha_r"), [(480.0, 0.5), (400.0, 0.6)])
def test_the_equivalence_check_rejects_a_coefficient_off_by_20_percent(
    capacity_final: np.ndarray, k: float, alpha_r: float
) -> None:
    # The competition run with K or the alpha of R 20% off differs from the capacity run in law.
    z = _two_sample_z(capacity_final, _final_counts(_competition_rows(k, alpha_r), seed=4))
    assert np.abs(z).max() > 4.5, z


def test_normalised_spec_round_trips_and_reproduces() -> None:
    m = dg.Model.from_dict(LV)
    spec = m.to_dict()
    comp = spec["competition"]
    assert comp["on"] == "death"
    assert comp["states"]["A"] == {
        "K": 1000.0,
        "K_per_cell": {"B": 0.5},
        "alpha": {"A": 1.0, "B": 0.6},
    }
    assert comp["states"]["B"]["K"] == {"off": 1500.0, "on": 600.0}
    assert dg.Model.from_dict(spec) == m
    assert m.competition == comp
    # A default row is logistic in the state's own count.
    d = dg.Model.from_dict(
        {"states": ["A"], "division": {"A": 1}, "competition": {"states": {"A": {"K": 5}}}}
    )
    assert d.to_dict()["competition"] == {
        "on": "division",
        "states": {"A": {"K": 5.0, "K_per_cell": {}, "alpha": {"A": 1.0}}},
    }
    ds = dg.simulate(
        LV, LV_SCHEDULE, initial=LV_INITIAL, t_end=30.0, record_every=5.0, n_replicates=4, seed=8
    )
    again = dg.reproduce(ds)
    assert again["count"].equals(ds["count"])
    assert again["n_events"].equals(ds["n_events"])


def test_death_channels_are_kept_for_competition_on_death() -> None:
    m = dg.Model.from_dict(LV)
    assert m.channel_names() == ["A->2A", "A->0", "B->2B", "B->0"]


def test_competition_works_with_pk_when_coefficients_do_not_depend_on_exposure() -> None:
    model = {
        "states": ["S"],
        "division": {"S": 0.5},
        "death": {"S": {"off": 0.0, "on": 0.6}},
        "competition": {"on": "division", "states": {"S": {"K": 500}}},
    }
    pk = {"kind": "pk", "dose": 2.0, "dose_every": 1.0, "half_life": 1.0}
    kw: dict[str, Any] = {"initial": {"S": 300}, "t_end": 10.0, "record_every": 1.0, "seed": 1}
    ds = dg.simulate(model, pk, n_replicates=5, **kw)
    assert float(ds["concentration"].max()) > 0
    # A zero dose keeps every rate at "off": the pk run with competition is the fixed-schedule
    # run bit for bit (as without competition, tests/test_adaptive_properties.py).
    zero = dg.simulate(model, {**pk, "dose": 0.0}, n_replicates=5, **kw)
    ref = dg.simulate(model, "off", n_replicates=5, **kw)
    assert (zero["concentration"] == 0.0).all()
    assert (ref["count"].isel(time=-1) != 300).any()  # competition acted
    for name in ref.data_vars:
        xr.testing.assert_identical(zero[name], ref[name])
    model["competition"]["states"]["S"]["K"] = {"off": 500, "on": 100}
    with pytest.raises(InvalidScheduleError, match="same under every exposure"):
        dg.simulate(model, pk, initial={"S": 300}, t_end=10.0, seed=1)


GOOD_ROW = {"K": 100.0, "alpha": {"A": 1.0}}


@pytest.mark.parametrize(
    ("competition", "match"),
    [
        ([1, 2], "competition must be a table"),
        ({"on": "growth", "states": {"A": GOOD_ROW}}, r"competition on is 'growth'"),
        ({"states": {}}, "competition states is {}"),
        ({"on": "death"}, "competition states is None"),
        ({"states": {"Z": GOOD_ROW}}, "unknown state 'Z'"),
        ({"states": {"A": 5}}, r"competition states.A must be a table"),
        ({"states": {"A": {"K": 1, "beta": 2}}}, r"unknown key 'beta' in competition states.A"),
        ({"states": {"A": {"K": -1.0}}}, r"competition states.A.K is -1.0; coefficients"),
        ({"states": {"A": {"K": float("nan")}}}, r"states.A.K is nan"),
        ({"states": {"A": {"K": {"off": 1.0}}}}, "no value for exposure 'on'"),
        ({"states": {"A": {"K": 1, "alpha": {"A": -2}}}}, r"alpha of state 'A' is -2"),
        ({"states": {"A": {"K": 1, "alpha": {"Q": 1}}}}, r"alpha names unknown state 'Q'"),
        ({"states": {"A": {"K": 1, "alpha": {"A": 0}}}}, r"alpha is 0 for every state"),
        ({"states": {"A": {"K": 1, "K_per_cell": {"B": "x"}}}}, r"K_per_cell of state 'B' is"),
        ({"states": {"A": {"alpha": {"A": 1}}}}, r"capacity under exposure 'off' is always 0"),
        (
            {"on": "death", "states": {"A": {"K_per_cell": {"B": 1.5}}}},
            r"states.A.K under exposure 'off' is 0.0; competition on death needs K > 0",
        ),
    ],
)
def test_competition_errors_name_the_field_and_value(competition: Any, match: str) -> None:
    spec = {"states": ["A", "B"], "division": {"A": 0.5}, "competition": competition}
    with pytest.raises(InvalidModelError, match=match):
        dg.Model.from_dict(spec)


def test_capacity_and_competition_are_exclusive() -> None:
    with pytest.raises(InvalidModelError, match="either capacity or competition"):
        dg.Model.from_dict(
            {
                "states": ["A"],
                "division": {"A": 1},
                "capacity": {"K": 10},
                "competition": {"states": {"A": {"K": 10}}},
            }
        )


# Crowding that only adds death (capacity on "death_additive"): a drug-free logistic phase, then a
# killing drug (d = 1.5 > b = 0.5) under which crowding still adds death, 0.4 x N/K (the slope
# b - d of the drug-free exposure).
ADDITIVE: dict[str, Any] = {
    "states": ["S"],
    "division": {"S": 0.5},
    "death": {"S": {"off": 0.1, "on": 1.5}},
    "capacity": {"K": 1000.0, "on": "death_additive"},
}
ADDITIVE_SCHEDULE = {"kind": "piecewise", "segments": [[0, "off"], [10, "on"]]}
ADDITIVE_TIMES = [5.0, 10.0, 11.0, 12.0, 13.0]


def additive_ode(
    times: list[float], death_on: float = 1.5, slope: float = 0.4, k: float = 1000.0
) -> np.ndarray:
    """dn/dt = (b - d) n - slope n^2 / K under ADDITIVE_SCHEDULE from n = 100, at ``times``.

    Exact: the logistic (Bernoulli) equation n' = r n - a n^2 has the closed form
    n(t) = r / (a + (r / n0 - a) e^(-r t)) within each phase."""
    a = slope / k

    def phase(n0: float, r: float, t: float) -> float:
        return r / (a + (r / n0 - a) * math.exp(-r * t))

    n10 = phase(100.0, 0.5 - 0.1, 10.0)
    return np.array(
        [phase(100.0, 0.4, t) if t <= 10.0 else phase(n10, 0.5 - death_on, t - 10.0) for t in times]
    )


@pytest.fixture(scope="module")
def additive_ensemble() -> np.ndarray:
    ds = dg.simulate(
        ADDITIVE,
        ADDITIVE_SCHEDULE,
        initial={"S": 100},
        t_end=13.0,
        times=ADDITIVE_TIMES,
        n_replicates=400,
        seed=5,
    )
    return ds["count"].sel(cell_state="S").values.astype(float)  # (replicate, time)


def _additive_z(counts: np.ndarray, reference: np.ndarray) -> np.ndarray:
    se = counts.std(axis=0, ddof=1) / math.sqrt(counts.shape[0])
    return (counts.mean(axis=0) - reference) / se


def test_additive_crowding_tracks_its_logistic_ode_with_and_without_the_drug(
    additive_ensemble: np.ndarray,
) -> None:
    # As for the Lotka-Volterra check: the mean differs from the ODE by O(1/K) relative, well
    # below the standard error of 400 replicates; |z| < 4.5 at 5 points is a family-wise
    # false-alarm rate below 1e-4.
    z = _additive_z(additive_ensemble, additive_ode(ADDITIVE_TIMES))
    assert np.abs(z).max() < 4.5, z
    # The drug kills a crowded tumour: the mean falls after day 10 (the "death" form would let
    # crowding lower the death rate to 0 at N/K = 1.5).
    mean = additive_ensemble.mean(axis=0)
    assert mean[-1] < mean[1] / 5


@pytest.mark.parametrize("perturbed", ["death_on", "slope"])
@pytest.mark.parametrize("factor", [1.2, pytest.param(1.05, marks=pytest.mark.deep)])
def test_the_additive_check_rejects_a_perturbed_rate(
    additive_ensemble: np.ndarray, perturbed: str, factor: float
) -> None:
    # 20% off in the CI tier, 5% in the deep tier (both are rejected with |z| > 10 here).
    kw = {"death_on": 1.5 * factor} if perturbed == "death_on" else {"slope": 0.4 * factor}
    z = _additive_z(additive_ensemble, additive_ode(ADDITIVE_TIMES, **kw))
    assert np.abs(z).max() > 4.5, z


def test_additive_slope_comes_from_the_drug_free_exposure_or_is_given() -> None:
    m = dg.Model.from_dict(ADDITIVE)
    assert m.capacity == {
        "K": 1000.0,
        "on": "death_additive",
        "weights": {"S": 1.0},
        "slope": {"S": 0.4},
    }
    assert dg.Model.from_dict(m.to_dict()) == m
    assert m.channel_names() == ["S->2S", "S->0"]
    explicit = {**ADDITIVE, "capacity": {"K": 1000.0, "on": "death_additive", "slope": 0.4}}
    assert dg.Model.from_dict(explicit) == m
    # A state that declines even in the reference exposure gets slope 0; a table may omit states.
    two = {
        "states": ["S", "P"],
        "exposures": ["none", "drug"],
        "division": {"S": 0.5, "P": 0.01},
        "death": {"S": {"none": 0.1, "drug": 1.5}, "P": 0.05},
        "capacity": {"K": 100.0, "on": "death_additive", "slope": "none"},
    }
    assert dg.Model.from_dict(two).capacity["slope"] == {"S": 0.4, "P": 0.0}
    two["capacity"]["slope"] = {"S": 0.3}
    assert dg.Model.from_dict(two).capacity["slope"] == {"S": 0.3, "P": 0.0}


@pytest.mark.parametrize(
    ("capacity", "match"),
    [
        ({"K": 10, "on": "death", "slope": 0.4}, "slope goes with on = 'death_additive'"),
        ({"K": 10, "on": "death_additive", "slope": "drug"}, "slope is 'drug', not an exposure"),
        ({"K": 10, "on": "death_additive", "slope": -0.1}, "slope of state 'S' is -0.1"),
        ({"K": 10, "on": "death_additive", "slope": {"X": 1.0}}, "unknown state 'X'"),
        ({"K": 10, "on": "death_additive", "slope": [0.4]}, r"slope is \[0.4\]"),
        ({"K": 10, "on": "death_addtive"}, "capacity on is 'death_addtive'"),
    ],
)
def test_invalid_additive_capacity_is_refused(capacity: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidModelError, match=match):
        dg.Model.from_dict({**ADDITIVE, "capacity": capacity})


def test_additive_capacity_without_an_off_exposure_needs_a_slope() -> None:
    spec = {
        "states": ["S"],
        "exposures": ["none", "drug"],
        "division": {"S": 0.5},
        "capacity": {"K": 10, "on": "death_additive"},
    }
    with pytest.raises(InvalidModelError, match="needs a slope"):
        dg.Model.from_dict(spec)


def test_crowding_that_lowers_death_under_a_killing_drug_warns() -> None:
    # The issue's example: K = 1000, b = 0.5, d_on = 1.5 on death.
    spec = {**ADDITIVE, "capacity": {"K": 1000.0, "on": "death"}}
    with pytest.warns(
        CrowdingWarning, match=r"state 'S' under exposure 'on' \(death 1.5 > division 0.5"
    ):
        dg.Model.from_dict(spec)
    comp = {
        **ADDITIVE,
        "capacity": None,
        "competition": {"on": "death", "states": {"S": {"K": 1000.0}}},
    }
    del comp["capacity"]
    with pytest.warns(
        CrowdingWarning, match="competition on death: .*state 'S' under exposure 'on'"
    ):
        dg.Model.from_dict(comp)
    # Crowding that only adds death, and death below division everywhere, do not warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrowdingWarning)
        dg.Model.from_dict(ADDITIVE)
        dg.Model.from_dict({**spec, "death": {"S": {"off": 0.1, "on": 0.5}}})
        dg.Model.from_dict(LV)


def test_a_capacity_lowered_by_the_drug_without_death_warns_of_a_frozen_population() -> None:
    # The issue's example: K drops from 1000 to 100 under the drug with d = 0, on division.
    spec: dict[str, Any] = {
        "states": ["S"],
        "division": {"S": 0.5},
        "competition": {"on": "division", "states": {"S": {"K": {"off": 1000.0, "on": 100.0}}}},
    }
    with pytest.warns(
        CrowdingWarning,
        match=r"state 'S' under exposure 'on' \(death rate 0, capacity lower than under 'off'\)",
    ):
        dg.Model.from_dict(spec)
    # The population is indeed frozen above the lowered capacity: nothing happens.
    with pytest.warns(CrowdingWarning):
        ds = dg.simulate(spec, "on", initial={"S": 900}, t_end=100.0, n_replicates=3, seed=1)
    assert (ds["n_events"] == 0).all()
    # A death rate under the drug, or the same capacity under every exposure, does not warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrowdingWarning)
        dg.Model.from_dict({**spec, "death": {"S": {"off": 0.0, "on": 0.1}}})
        dg.Model.from_dict(
            {**spec, "competition": {"on": "division", "states": {"S": {"K": 100.0}}}}
        )
