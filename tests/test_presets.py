"""Literature presets: each validates and runs; the Sharma calibration against the mean matrix.

The stochastic check of the Sharma preset (ensemble survival against the exact mean matrix at
two-sided alpha = 0.001, and its rejection of a rate off by 20%) is in test_reproductions.py.
"""

import math

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import presets
from dtp_gillespie.errors import DtpGillespieError, InvalidModelError, InvalidScheduleError
from scipy.linalg import expm


def _validate(p: presets.Preset) -> None:
    model = dg.Model.from_dict(p.model)
    schedule = dg.Schedule.from_dict(p.schedule)
    schedule.compile(model, p.run["t_end"])
    assert set(p.to_dict()) == {"model", "schedule", "run"}


def _sharma_matrices() -> tuple[np.ndarray, np.ndarray]:
    spec = presets.sharma2010_preexisting().model
    b, d = spec["division"], spec["death"]
    k_sp, k_ps = (sw["rate"] for sw in spec["switch"])

    def a(exposure: str) -> np.ndarray:
        return np.array(
            [
                [b["S"] - d["S"][exposure] - k_sp, k_ps],
                [k_sp, b["P"] - d["P"] - k_ps],
            ]
        )

    return a("off"), a("on")


def _perron(a: np.ndarray) -> tuple[float, np.ndarray]:
    w, v = np.linalg.eig(a)
    i = int(np.argmax(w.real))
    x = np.abs(v[:, i].real)
    return float(w[i].real), x / x.sum()


def test_sharma_calibration_mean_matrix() -> None:
    a_off, a_on = _sharma_matrices()
    lam, pi = _perron(a_off)
    doubling = np.log(2) / lam
    assert 0.9 < doubling < 1.1  # PC9-like, about a day
    n9 = expm(a_on * 9.0) @ pi
    survival = n9.sum()
    assert survival == pytest.approx(0.003, rel=0.10)

    # Drug holiday from the day-9 composition: persister fraction <= 2 x pre-treatment by
    # 9 doublings, and not already by 8 (so "about 9 doublings").
    def frac(t: float) -> float:
        n = expm(a_off * t) @ n9
        return float(n[1] / n.sum())

    assert frac(9 * doubling) <= 2 * pi[1]
    assert frac(8 * doubling) > 2 * pi[1]
    # The preset's initial counts are the Perron vector.
    initial = presets.sharma2010_preexisting().run["initial"]
    total = sum(initial.values())
    assert initial["P"] / total == pytest.approx(pi[1], rel=0.01)


def test_sharma_runs() -> None:
    # What only this test checks: the preset runs with its own run options (the reproduction
    # overrides the record times) and gives the documented protocol. The survival against the
    # exact mean matrix, with a standard-error tolerance and the rejection of a model with one
    # rate off by 20%, is test_reproductions.py::test_sharma_quick_against_mean_matrix_and_published
    # and ::test_sharma_checks_reject_a_wrong_model.
    p = presets.sharma2010_preexisting()
    _validate(p)
    ds = p.simulate(n_replicates=4, seed=1)
    np.testing.assert_array_equal(ds["time"], np.arange(19.0))  # daily records to day 18
    initial = ds["count"].sel(time=0.0)
    for state, n in p.run["initial"].items():
        assert (initial.sel(cell_state=state) == n).all()
    on = p.model["exposures"].index("on")
    drug = ds["time"] < 9.0  # 9 days of erlotinib, then a 9-day holiday
    assert (ds["exposure"].where(drug, on) == on).all()
    assert (ds["exposure"].where(~drug, -1) != on).all()
    assert (ds["time_on_drug"] == 9.0).all()
    assert (ds["n_switches"] == 1).all()
    assert (ds["status"] == 0).all()
    total = ds["count"].sum("cell_state")
    assert (total.sel(time=9.0) < total.sel(time=0.0) / 100).all()  # ~0.3% survive the drug
    assert (total.sel(time=18.0) > 10 * total.sel(time=9.0)).all()  # and regrow on holiday


def test_russo_validates_and_runs() -> None:
    p = presets.russo2022_induced_mutator()
    _validate(p)
    mutation = {(m["from"], m["to"]): m["probability"] for m in p.model["mutation"]}
    prob = mutation[("P", "R")]
    assert prob["on"] == pytest.approx(20 * prob["off"])
    switch = {(s["from"], s["to"]): s["rate"] for s in p.model["switch"]}
    assert switch[("S", "P")]["off"] == 0.0
    assert switch[("S", "P")]["on"] > 0
    ds = p.simulate(n_replicates=5, seed=3, initial={"S": 5_000}, t_end=30.0)
    assert (ds["count"].sel(cell_state="P").isel(time=-1) > 0).all()
    for fold in (7, 50, 12.5):
        presets.russo2022_induced_mutator(fold=fold)


@pytest.mark.parametrize(
    "fold",
    [
        6.9,
        51,
        0,
        -20,
        float("nan"),
        float("inf"),
        "20",
        True,
        None,
        pytest.param(10**400, id="huge-int"),
    ],
)
def test_russo_fold_validation(fold: object) -> None:
    with pytest.raises(InvalidModelError, match=r"fold .*\[7, 50\]") as info:
        presets.russo2022_induced_mutator(fold=fold)  # type: ignore[arg-type]
    _check_names(info.value, "russo2022_induced_mutator fold", fold)


@pytest.mark.parametrize("fold", [7, 20, 50])
def test_russo_fold_readings(fold: float) -> None:
    """The fold multiplies the per-division probability, or the per-day rate p * b (vs S's)."""
    by_probability = presets.russo2022_induced_mutator(fold, "probability").model
    by_rate = presets.russo2022_induced_mutator(fold, fold_applies_to="rate").model
    assert presets.russo2022_induced_mutator(fold).model == by_probability  # the default
    for model in (by_probability, by_rate):
        dg.Model.from_dict(model)
    mu = by_probability["mutation"][0]["probability"]  # S -> R, per division
    b = by_rate["division"]
    p_prob = by_probability["mutation"][1]["probability"]
    p_rate = by_rate["mutation"][1]["probability"]
    assert p_prob["on"] == pytest.approx(fold * p_prob["off"])
    assert p_prob["on"] == pytest.approx(fold * mu)
    # Mutations per persister per day under drug = fold x mutations per sensitive cell per day.
    assert p_rate["on"] * b["P"] == pytest.approx(fold * mu * b["S"])
    assert p_rate["off"] == p_prob["off"] == mu
    # Everything else is the same model.
    by_rate["mutation"][1]["probability"]["on"] = p_prob["on"]
    assert by_rate == by_probability


@pytest.mark.parametrize("reading", ["Rate", "per_day", "", None, 1])
def test_russo_fold_reading_validation(reading: object) -> None:
    with pytest.raises(InvalidModelError, match="expected one of probability, rate") as info:
        presets.russo2022_induced_mutator(20, reading)  # type: ignore[arg-type]
    _check_names(info.value, "russo2022_induced_mutator fold_applies_to", reading)


def _check_names(exc: Exception, argument: str, value: object) -> None:
    """The project rule: a typed error that names the argument and the value."""
    assert isinstance(exc, DtpGillespieError)
    assert isinstance(exc, ValueError)
    assert f"{argument} is {value!r}" in str(exc)


def test_preset_numbers_may_be_numpy_scalars() -> None:
    p = presets.russo2022_induced_mutator(fold=np.int64(10))
    assert p.model["mutation"][1]["probability"]["on"] == pytest.approx(1e-6)
    p = presets.greene2019_induced_resistance(alpha=np.float32(0.5), capacity=np.int64(1_000))
    assert p.model["capacity"]["K"] == 1_000.0
    assert p.model["switch"][0]["rate"]["on"] == pytest.approx(1e-6 + 0.75)
    _validate(p)


@pytest.mark.parametrize("schedule", ["continuous", "pulsed"])
def test_greene_runs(schedule: str) -> None:
    k = 1_000
    p = presets.greene2019_induced_resistance(alpha=0.01, schedule=schedule, capacity=k)
    _validate(p)
    assert p.run["progression"] == {"size": 0.9 * k}
    assert p.schedule["start"] == {"detect": 0.1 * k}
    ds = p.simulate(n_replicates=20, seed=5)
    assert "progression_time" in ds
    start = ds["treatment_start_time"].values
    prog = ds["progression_time"].values
    assert np.isfinite(start).all()
    assert np.isfinite(prog).any()
    done = np.isfinite(prog)
    assert (prog[done] > start[done]).all()
    if schedule == "continuous":
        assert (ds["n_switches"] == 1).all()
    else:
        assert (ds["n_switches"].values[done] > 1).all()


def test_greene_argument_errors() -> None:
    with pytest.raises(InvalidScheduleError, match="schedule"):
        presets.greene2019_induced_resistance(schedule="adaptive")
    with pytest.raises(InvalidModelError, match="alpha"):
        presets.greene2019_induced_resistance(alpha=-1)
    with pytest.raises(InvalidModelError, match="capacity"):
        presets.greene2019_induced_resistance(capacity=float("inf"))


@pytest.mark.parametrize(
    ("argument", "value", "bounds"),
    [
        # Not a real number: a string (even a numeric one), None, a bool.
        ("capacity", "abc", "[100, 1e+20]"),
        ("capacity", "1e6", "[100, 1e+20]"),
        ("capacity", None, "[100, 1e+20]"),
        ("capacity", True, "[100, 1e+20]"),
        # Not finite or out of range; above 1e20 the initial 0.01 K cells overflow the counts.
        ("capacity", math.nan, "[100, 1e+20]"),
        ("capacity", -math.inf, "[100, 1e+20]"),
        ("capacity", 99, "[100, 1e+20]"),
        ("capacity", 1e21, "[100, 1e+20]"),
        ("alpha", math.inf, "[0, 1e+300]"),
        ("alpha", math.nan, "[0, 1e+300]"),
        ("alpha", -0.01, "[0, 1e+300]"),
        ("alpha", 1e308, "[0, 1e+300]"),
        ("alpha", "0.01", "[0, 1e+300]"),
        ("alpha", None, "[0, 1e+300]"),
        ("alpha", False, "[0, 1e+300]"),
    ],
)
def test_greene_number_arguments_are_typed(argument: str, value: object, bounds: str) -> None:
    with pytest.raises(InvalidModelError) as info:
        presets.greene2019_induced_resistance(**{argument: value})  # type: ignore[arg-type]
    _check_names(info.value, f"greene2019_induced_resistance {argument}", value)
    assert f"finite real number in {bounds}" in str(info.value)


@pytest.mark.parametrize(
    ("preset", "value"),
    [
        (presets.greene2019_induced_resistance, "adaptive"),
        (presets.greene2019_induced_resistance, None),
        (presets.greene2019_induced_resistance, 1),
        (presets.zhang2017_adaptive, "pulsed"),
        (presets.zhang2017_adaptive, None),
    ],
)
def test_preset_schedule_choice_is_a_schedule_error(preset: object, value: object) -> None:
    with pytest.raises(InvalidScheduleError, match="expected one of") as info:
        preset(schedule=value)  # type: ignore[operator]
    _check_names(info.value, f"{preset.__name__} schedule", value)  # type: ignore[attr-defined]


def test_presets_are_independent_copies() -> None:
    a = presets.sharma2010_preexisting()
    a.model["division"]["S"] = 9.0
    assert presets.sharma2010_preexisting().model["division"]["S"] == 0.75


def test_greene_pulsed_protocol_is_one_on_three_off_from_detection() -> None:
    k = 1_000
    p = presets.greene2019_induced_resistance(alpha=0.01, schedule="pulsed", capacity=k)
    tr = dg.trace(p.model, p.schedule, initial=p.run["initial"], t_end=30.0, seed=2)
    t, exposure, count = tr["time"], tr["exposure"], tr["count"]
    # An event's exposure is the one in force just before it.
    changed = np.flatnonzero(np.diff(exposure) != 0) + 1
    # Treatment starts at the event that brings the burden to the detection size...
    start = changed[0] - 1
    assert count[start].sum() == 0.1 * k
    t0 = t[start]
    # ... and then the timers switch at t0 + 1, 4, 5, 8, ...: each switch lies between the last
    # event under the old exposure and the first under the new one.
    for i, offset in zip(changed[1:8], [1, 4, 5, 8, 9, 12, 13], strict=True):
        assert t[i - 1] <= t0 + offset <= t[i]
    assert list(exposure[changed[:4]]) == [1, 0, 1, 0]  # on, off, on, off ("off" is index 0)
