"""``method="jump"`` under adaptive rules checked at visits (``check_every > 0``).

Such rules act only at the visits, from the counts there, so the jumps (whose grid holds every
visit) run them exactly in law: two-sample KS tests at α = 0.001 against exact SSA on the counts
at ``t_end``, the exposure there, the number of switches and the time on drug, with a rejection
twin (S's division off drug 20% faster in the CI tier, 5% in the deep tier ``DTP_DEEP=1``) whose
rejection is shown with a margin for power. Also: bit-identity across threads and blocks, the
refusal of pk dosing with missed doses, ``method="auto"``, and continuous monitoring: an
approximation under jumps (the rules read at the end of every step), labelled.
"""

import math
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from oracles import tiers
from scipy import stats

KS_CRIT = 1.949_469_629_700_058
"""``c(α)`` of the two-sample Kolmogorov–Smirnov test at α = 0.001."""


def model(s_birth_off: float = 0.7) -> dict[str, Any]:
    """S, P and a resistant R reached by mutation; on drug S dies fast and turns persister."""
    return {
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": {"S": {"off": s_birth_off, "on": 0.7}, "P": 0.1, "R": 0.4},
        "death": {"S": {"off": 0.1, "on": 1.2}, "P": 0.05, "R": 0.1},
        "switch": [
            {"from": "S", "to": "P", "rate": {"off": 0.02, "on": 0.2}},
            {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.02}},
        ],
        "mutation": [{"from": "S", "to": "R", "probability": 0.002}],
    }


def visits(check_every: float = 0.75) -> dg.Schedule:
    """Treat; stop at half the burden at treatment start (after a day on), resume at the full
    burden or after a 3-day holiday, checked at visits (record times every 2 days: the grid
    mixes step lengths)."""
    return dg.Schedule.adaptive(
        stop_below=0.5, resume_above=1.0, min_on=1.0, max_holiday=3.0, check_every=check_every
    )


RUN: dict[str, Any] = {"initial": {"S": 200, "P": 20}, "t_end": 12.0, "record_every": 2.0}
JUMP: dict[str, Any] = {"method": "jump", "jump_threshold": 0.0, "jump_step": 0.5}


def outcomes(ds: xr.Dataset) -> dict[str, np.ndarray]:
    last = ds.isel(time=-1)
    return {
        "S": last["count"].sel(cell_state="S").to_numpy(),
        "P": last["count"].sel(cell_state="P").to_numpy(),
        "R": last["count"].sel(cell_state="R").to_numpy(),
        "N": last["count"].sum("cell_state").to_numpy(),
        "exposure at t_end": last["exposure"].to_numpy(),  # flag codes: 0 off, 1 on
        "n_switches": ds["n_switches"].to_numpy(),
        "time_on_drug": ds["time_on_drug"].to_numpy(),
    }


def critical(n: int, m: int) -> float:
    return KS_CRIT * math.sqrt((n + m) / (n * m))


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=3000, deep_n=40_000))
def test_visit_based_rules_under_jumps_agree_with_exact_ssa(factor: float, n: int) -> None:
    ssa = outcomes(dg.simulate(model(), visits(), **RUN, n_replicates=n, seed=41))
    assert np.mean(ssa["n_switches"] > 0) > 0.5  # the rules do act
    for options in (JUMP, {"method": "jump", "jump_step": 1.0, "jump_threshold": 100.0}):
        jump = outcomes(dg.simulate(model(), visits(), **RUN, n_replicates=n, seed=42, **options))
        for name, sample in jump.items():
            d = stats.ks_2samp(sample, ssa[name]).statistic
            assert d < critical(n, n), f"{options}, {name}: D = {d:.4f}"
    twin = outcomes(
        dg.simulate(model(0.7 * factor), visits(), **RUN, n_replicates=n, seed=43, **JUMP)
    )
    d = stats.ks_2samp(twin["N"], ssa["N"]).statistic
    # Rejected with a margin of the Dvoretzky–Kiefer–Wolfowitz deviation at 0.001 of both
    # samples: a fresh twin sample is rejected with probability >= 99.9%.
    assert d >= 2 * critical(n, n), f"the twin ({factor}) is not rejected with power: D = {d:.4f}"


def test_adaptive_jump_runs_do_not_depend_on_threads_or_blocks(tmp_path: Path) -> None:
    run = {**RUN, "n_replicates": 30, "seed": 5, "method": "jump", "jump_threshold": 50.0}
    one = dg.simulate(model(), visits(), n_threads=1, **run)
    two = dg.simulate(model(), visits(), n_threads=2, **run)
    # Blocks are a streamed run's (a plain run is one engine call).
    blocks = dg.simulate(model(), visits(), block_size=7, store=tmp_path / "b.zarr", **run).load()
    for other in (two, blocks):
        for name in one.data_vars:
            np.testing.assert_array_equal(one[name].to_numpy(), other[name].to_numpy(), name)
    assert one.attrs["algorithm"] == "jump"


def test_what_jumps_cannot_run_exactly_is_refused_by_name() -> None:
    # (Adaptive rules on a density-dependent model run: tests/test_jump_density_adaptive.py;
    # pk dosing on one is refused in tests/test_jump_pk.py.)
    pk = dg.Schedule.pk(
        dose=1.0, dose_every=1.0, half_life=0.5, ec50=1.0, missed_dose_probability=0.2
    )
    with pytest.raises(dg.errors.InvalidScheduleError, match=r"missed_dose_probability is 0\.2"):
        dg.simulate(model(), pk, **RUN, method="jump")


def test_auto_runs_jumps_on_a_large_adaptive_run_bit_for_bit() -> None:
    run = {"initial": {"S": 10**7, "P": 10**5}, "t_end": 4.0, "n_replicates": 3, "seed": 9}
    auto = dg.simulate(model(), visits(1.0), **run, method="auto")
    jump = dg.simulate(model(), visits(1.0), **run, method="jump")
    assert auto.attrs["algorithm"] == "jump"
    assert "held throughout" in auto.attrs["auto"]
    for name in jump.data_vars:
        np.testing.assert_array_equal(auto[name].to_numpy(), jump[name].to_numpy(), name)
    small = dg.simulate(model(), visits(1.0), **{**run, "initial": {"S": 20}}, method="auto")
    assert small.attrs["algorithm"] == "ssa"
    continuous = dg.simulate(model(), dg.Schedule.adaptive(), **run, method="auto")
    assert continuous.attrs["algorithm"] == "ssa"
    assert "check_every is 0" in continuous.attrs["auto"]


def test_continuous_monitoring_runs_as_a_labelled_approximation(tmp_path: Path) -> None:
    run = {**RUN, "n_replicates": 20, "seed": 3, "method": "jump", "jump_step": 0.25}
    ds = dg.simulate(model(), dg.Schedule.adaptive(), **run)
    assert ds.attrs["algorithm"] == "jump+monitor(step)"
    assert ds.attrs["monitor_step"] == 0.25
    assert ds.attrs["jump_step"] == 0.25
    assert (ds["n_switches"] > 0).any()
    again = dg.simulate(
        model(), dg.Schedule.adaptive(), n_threads=1, block_size=6, store=tmp_path / "a.zarr", **run
    ).load()
    for name in ds.data_vars:
        np.testing.assert_array_equal(ds[name].to_numpy(), again[name].to_numpy(), name)
    # Visits are exact: no label beyond "jump".
    exact = dg.simulate(model(), visits(), **run)
    assert exact.attrs["algorithm"] == "jump"
    assert "monitor_step" not in exact.attrs
    # reproduce reruns the same approximation.
    np.testing.assert_array_equal(dg.reproduce(ds)["count"].to_numpy(), ds["count"].to_numpy())
