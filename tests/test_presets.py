"""Literature presets: each validates and runs; the Sharma calibration against the mean matrix."""

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import presets
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
    p = presets.sharma2010_preexisting()
    _validate(p)
    ds = p.simulate(n_replicates=20, seed=1)
    total = ds["count"].sum("cell_state")
    survival = float(total.sel(time=9.0).mean()) / float(total.sel(time=0.0).mean())
    # 20 replicates of ~300 survivors: the mean is within a few percent of 0.003.
    assert survival == pytest.approx(0.003, rel=0.15)


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


@pytest.mark.parametrize("fold", [6.9, 51, 0, -20, float("nan"), "20", True])
def test_russo_fold_validation(fold: object) -> None:
    with pytest.raises(ValueError, match=r"fold .*\[7, 50\]"):
        presets.russo2022_induced_mutator(fold=fold)  # type: ignore[arg-type]


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
    with pytest.raises(ValueError, match="schedule"):
        presets.greene2019_induced_resistance(schedule="adaptive")
    with pytest.raises(ValueError, match="alpha"):
        presets.greene2019_induced_resistance(alpha=-1)
    with pytest.raises(ValueError, match="capacity"):
        presets.greene2019_induced_resistance(capacity=float("inf"))


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
