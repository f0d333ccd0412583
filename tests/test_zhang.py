"""Zhang et al. 2017 preset and its reproduction script (examples/reproduce_zhang2017.py)."""

import math
from types import ModuleType

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import presets
from example_scripts import load_example


def _example() -> ModuleType:
    return load_example("reproduce_zhang2017")


@pytest.mark.parametrize("schedule", ["adaptive", "continuous"])
def test_preset_validates_and_runs(schedule: str) -> None:
    p = presets.zhang2017_adaptive(schedule)
    model = dg.Model.from_dict(p.model)
    dg.Schedule.from_dict(p.schedule).compile(model, p.run["t_end"])
    assert set(p.to_dict()) == {"model", "schedule", "run"}
    assert model.biomarker is not None
    assert model.biomarker["decay"] == 0.5
    comp = model.competition
    assert comp is not None
    assert comp["states"]["T+"]["K_per_cell"] == {"TP": {"off": 1.5, "on": 0.5}}
    assert comp["states"]["TP"]["K"] == {"off": 10_000.0, "on": 100.0}
    ds = p.simulate(n_replicates=4, seed=1, t_end=400.0)
    assert (ds["count"] >= 0).all()
    assert np.isfinite(ds["biomarker"]).all()
    if schedule == "adaptive":
        # The first stop comes when PSA has halved: exactly half its value at treatment start.
        tr = dg.trace(p.model, p.schedule, initial=p.run["initial"], t_end=200.0, seed=1)
        assert tr["switch_exposure"][0] == 0
        assert (ds["n_switches"] >= 1).all()
    else:
        assert (ds["n_switches"] == 0).all()


def test_preset_rejects_unknown_schedules() -> None:
    with pytest.raises(ValueError, match="schedule is 'intermittent'"):
        presets.zhang2017_adaptive("intermittent")
    assert "zhang2017_adaptive" in presets.__all__


def test_adaptive_psa_rule_stops_at_half_the_treatment_start_value() -> None:
    p = presets.zhang2017_adaptive("adaptive")
    tr = dg.trace(p.model, p.schedule, initial=p.run["initial"], t_end=100.0, seed=3)
    t_stop = float(tr["switch_time"][0])
    # Re-run with a record at the switch time: the PSA there is half its value at t = 0.
    ds = dg.simulate(
        p.model, p.schedule, initial=p.run["initial"], t_end=100.0, times=[0.0, t_stop], seed=3
    )
    y0, y_stop = ds["biomarker"][0].values
    assert y_stop == pytest.approx(0.5 * y0, rel=1e-9)


def test_example_quick_shows_adaptive_delaying_progression() -> None:
    out = _example().main(["--quick"])
    c, a = out["schedules"]["continuous"], out["schedules"]["adaptive"]
    # The deterministic limit: adaptive roughly doubles the time to progression.
    assert 900 < c["ode_ttp_days"] < 1200
    assert a["ode_ttp_days"] > 1.5 * c["ode_ttp_days"]
    # The stochastic ensemble agrees: medians near the ODE limit, adaptive much later, on drug
    # a small fraction of the time, and the log-rank test is decisive.
    assert c["median_ttp_days"] == pytest.approx(c["ode_ttp_days"], rel=0.1)
    assert a["median_ttp_days"] == pytest.approx(a["ode_ttp_days"], rel=0.1)
    assert out["ttp_ratio_adaptive_vs_continuous"] > 1.5
    assert out["logrank_p"] < 1e-6
    assert a["on_drug_fraction_before_progression"] < 0.5
    assert c["on_drug_fraction_before_progression"] == 1.0
    assert math.isfinite(out["seconds"])


def test_median_check_rejects_a_wrong_growth_rate() -> None:
    # The check above (median time to progression within 10% of the ODE limit) fails when the
    # T- growth rate is 20% off: the wrong model progresses about 1/1.2 as late.
    example = _example()
    limit = example.ode_time_to_progression("continuous", dt=0.1)["ttp"]
    p = presets.zhang2017_adaptive("continuous")
    medians = {}
    for factor in (1.0, 1.2):
        p.model["division"]["T-"] = 0.0066542 * factor
        ds = p.simulate(n_replicates=40, seed=7)
        medians[factor] = float(dg.analysis.median_time(ds)["median"])
    assert medians[1.0] == pytest.approx(limit, rel=0.1)
    assert medians[1.2] != pytest.approx(limit, rel=0.1)
