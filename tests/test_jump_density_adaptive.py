"""``method="jump"`` under adaptive rules on a density-dependent model: each replicate's rules put
its exposure in force (exactly at visits), and each step's law is the density approximation's
(``jump+density(midpoint)``) under that exposure.

The model: one type under a capacity on division, division ``0.8 (1 − N/K)``, ``K = 1000``,
death 0.1 off drug and 0.6 on it (the tumour shrinks towards 250 cells), from 20 cells. The rule
(weekly visits, thresholds in cells): treat from 650 cells, stop at 300. The visits fall where
the burden is near a threshold (about 655 ± 50 cells at day 7, 294 ± 24 at day 14 on drug), so
each replicate's decisions are random: 1 to 4 switches by day 28.

Against exact SSA of the same model and rule (two-sample z of the means at α = 0.001, each
``Z_CRIT``): N at days 14 and 28, the share on drug at day 28, ``n_switches`` and
``time_on_drug``, with every pool jumped (``jump_threshold=0``, the approximation at its worst)
at ``jump_step=0.25``. At that step the approximation's bias is well below the test's resolution:
``benches/python/bench_jumps_density_bias.py --adaptive`` (docs/jumps.md) detects it at Δ = 1
(0.03 switches, 0.07 days on drug, at 10^5 replicates) and sees it fall by about 4 per halving
(second order), so at Δ = 0.25 it is about a tenth of the smallest difference the deep tier
detects (0.016 switches, 0.07 days), and within the noise at 10^5 replicates. The twin
(division 20% faster in the CI tier, 5% in the deep tier) is rejected on ``time_on_drug`` with
a margin of ``Z_POWER``, so a fresh twin sample is rejected with probability >= 99.9%.
"""

import math
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from oracles import Z_CRIT, tiers

Z_POWER = 3.09
"""The one-sided normal quantile at 0.999: a twin whose z exceeds ``Z_CRIT + Z_POWER`` is
rejected by a fresh sample with probability >= 99.9%."""

RUN: dict[str, Any] = {"initial": {"N": 20}, "t_end": 28.0, "times": [14.0, 28.0]}
JUMP: dict[str, Any] = {"method": "jump", "jump_threshold": 0.0, "jump_step": 0.25}


def model(division: float = 0.8) -> dict[str, Any]:
    return {
        "states": ["N"],
        "exposures": ["off", "on"],
        "division": {"N": division},
        "death": {"N": {"off": 0.1, "on": 0.6}},
        "capacity": {"K": 1000, "on": "division"},
    }


def weekly(check_every: float = 7.0) -> dg.Schedule:
    """Start off drug; treat from 650 cells, stop at 300 (visits every ``check_every`` days;
    0: continuous monitoring)."""
    return dg.Schedule.adaptive(
        reference="absolute", start="off", resume_above=650, stop_below=300,
        check_every=check_every,
    )  # fmt: skip


def outcomes(ds: xr.Dataset) -> dict[str, np.ndarray]:
    n = ds["count"].sum("cell_state").to_numpy().astype(float)
    return {
        "N(14)": n[:, 0],
        "N(28)": n[:, 1],
        "on drug at 28": ds["exposure"].isel(time=-1).to_numpy().astype(float),
        "n_switches": ds["n_switches"].to_numpy().astype(float),
        "time_on_drug": ds["time_on_drug"].to_numpy(),
    }


def z_means(x: np.ndarray, y: np.ndarray) -> float:
    return float((x.mean() - y.mean()) / math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size))


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=4000, deep_n=40_000))
def test_visit_rules_on_a_density_model_agree_with_exact_ssa(factor: float, n: int) -> None:
    ssa = outcomes(dg.simulate(model(), weekly(), **RUN, n_replicates=n, seed=61))
    # The rules' decisions are random: each count of switches from 1 to 4 is common.
    counts = np.bincount(ssa["n_switches"].astype(int), minlength=5)[1:]
    assert np.all(counts > 0.015 * n), counts
    jumps = dg.simulate(model(), weekly(), **RUN, n_replicates=n, seed=62, **JUMP)
    assert jumps.attrs["algorithm"] == "jump+density(midpoint)"
    for name, sample in outcomes(jumps).items():
        z = z_means(sample, ssa[name])
        assert abs(z) < Z_CRIT, f"{name}: z = {z:.2f}"
    twin = outcomes(
        dg.simulate(model(0.8 * factor), weekly(), **RUN, n_replicates=n, seed=63, **JUMP)
    )
    z = z_means(twin["time_on_drug"], ssa["time_on_drug"])
    assert abs(z) > Z_CRIT + Z_POWER, f"the twin ({factor}) is not rejected with power: z = {z:.2f}"


def test_density_adaptive_runs_do_not_depend_on_threads_or_blocks(tmp_path: Any) -> None:
    run = {**RUN, "n_replicates": 24, "seed": 5, "method": "jump", "jump_threshold": 50.0}
    for schedule in (weekly(), weekly(0.0)):
        one = dg.simulate(model(), schedule, n_threads=1, **run)
        two = dg.simulate(model(), schedule, n_threads=2, **run)
        # Blocks are a streamed run's (a plain run is one engine call): of 5 here.
        store = tmp_path / f"every{schedule.to_dict()['check_every']}.zarr"
        stored = dg.simulate(model(), schedule, store=store, block_size=5, **run)
        for other in (two, stored):
            for name in one.data_vars:
                np.testing.assert_array_equal(one[name].to_numpy(), other[name].to_numpy(), name)
            for key in ("algorithm", "max_rate_change_per_step", "density_rate_error"):
                assert other.attrs[key] == one.attrs[key], key
        np.testing.assert_array_equal(
            dg.reproduce(one)["count"].to_numpy(), one["count"].to_numpy()
        )


def test_attrs_label_both_approximations() -> None:
    run = {**RUN, "n_replicates": 4, "seed": 1, "method": "jump", "jump_step": 0.5}
    visits = dg.simulate(model(), weekly(), **run)
    assert visits.attrs["algorithm"] == "jump+density(midpoint)"
    assert "monitor_step" not in visits.attrs
    continuous = dg.simulate(model(), weekly(0.0), **run)
    assert continuous.attrs["algorithm"] == "jump+density(midpoint)+monitor(step)"
    assert continuous.attrs["monitor_step"] == 0.5
    for ds in (visits, continuous):
        assert ds.attrs["density_quantum"] == 1e-4
        assert ds.attrs["jump_step"] == 0.5
        assert 0 < ds.attrs["max_rate_change_per_step"] < 1
        assert 0 <= ds.attrs["density_rate_error"] < 1e-3
    # The report follows the mean-field path with the rules applied to it: there the rule treats
    # at day 7 (664 cells), stops at 14 (295), treats at 21 (862), as this fixed schedule does
    # on the same step grid, so the two reports are equal.
    fixed = dg.Schedule.piecewise([(0, "off"), (7, "on"), (14, "off"), (21, "on")])
    mean_path = dg.simulate(model(), fixed, **run)
    clear = dg.Schedule.adaptive(
        reference="absolute", start="off", resume_above=500, stop_below=400, check_every=7.0
    )
    rules = dg.simulate(model(), clear, **run)
    for key in ("max_rate_change_per_step", "density_rate_error"):
        assert rules.attrs[key] == mean_path.attrs[key], key
    # auto never runs the approximation: exact SSA, as before.
    auto = dg.simulate(model(), weekly(), **{**run, "method": "auto"})
    assert auto.attrs["algorithm"] == "ssa"
    assert "density dependent" in auto.attrs["auto"]


def test_what_jumps_cannot_run_is_still_refused_on_density_models() -> None:
    pk = dg.Schedule.pk(dose=1.0, dose_every=1.0, half_life=0.5, ec50=1.0)
    with pytest.raises(dg.errors.InvalidScheduleError, match="pk schedules on linear models only"):
        dg.simulate(model(), pk, **RUN, method="jump")
    with pytest.raises(dg.errors.InvalidRunError, match="does not monitor progression"):
        dg.simulate(
            model(), weekly(), **RUN, method="jump", progression={"factor": 2.0, "min_size": 100}
        )
    with pytest.raises(dg.errors.InvalidRunError, match="takes no event cap"):
        dg.simulate(model(), weekly(), **RUN, method="jump", max_events=10**6)
    marked = {**model(), "biomarker": {"production": {"N": 1.0}, "decay": 0.5}}
    with pytest.raises(dg.errors.InvalidModelError, match="does not simulate a biomarker"):
        dg.simulate(marked, weekly(), **RUN, method="jump")
