"""An adaptive reference is never 0 (docs/schedules.md, "A reference is never 0").

A reference of 0 makes every relative threshold 0: ``resume_above × 0`` holds at any burden and
the exposure flipped at every event (or every visit), silently. Now:

- a reference taken at t = 0 from a monitored burden of 0 is refused before the run, naming the
  reference, the monitored states and the initial counts (exact SSA, visits, jump, trace, sweep);
- during a run, a switch at a burden of 0 leaves the reference as it was: ``last_switch`` keeps
  the previous one, ``treatment_start`` stays undefined (relative rules wait).
"""

from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie.errors import InvalidScheduleError
from models import README_SPR

NO_R = {"initial": {"S": 1000}, "t_end": 20.0, "n_replicates": 2, "seed": 1, "n_threads": 1}

# A monitored clone R of one cell that dies within days on drug (and cannot divide there) while S
# lives on; off drug S mutates into R (at division) and R grows.
CLONE: dict[str, Any] = {
    "states": ["S", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.5, "R": {"off": 1.0, "on": 0.0}},
    "death": {"S": 0.45, "R": {"off": 0.1, "on": 5.0}},
    "mutation": [{"from": "S", "to": "R", "probability": {"off": 0.01, "on": 0.0}}],
}
ON, OFF = 1, 0


@pytest.mark.parametrize(
    ("spec", "reference"),
    [
        ({"monitor": ["R"]}, "treatment_start"),
        ({"monitor": ["R"], "reference": "initial"}, "initial"),
        (
            {"monitor": ["R"], "reference": "last_switch", "stop_below": 0.5, "resume_above": 1.5},
            "last_switch",
        ),
        ({"monitor": {"R": 2.0, "P": 1.0}, "check_every": 7.0}, "treatment_start"),
        (
            {"monitor": ["R"], "rules": [{"from": "on", "to": "off", "below": 0.5, "after": 3}]},
            "treatment_start",
        ),
    ],
)
def test_a_reference_of_zero_at_the_start_is_refused(spec: dict[str, Any], reference: str) -> None:
    schedule = {"kind": "adaptive", **spec}
    with pytest.raises(InvalidScheduleError) as err:
        dg.simulate(README_SPR, schedule, **NO_R)
    message = str(err.value)
    assert f"adaptive reference {reference!r}" in message
    # The states by name, in model order.
    monitored = [s for s in ("S", "P", "R") if s in spec["monitor"]]
    assert f"the monitored states ({', '.join(repr(s) for s in monitored)})" in message
    assert "initial counts: 'S' 1000, 'P' 0, 'R' 0" in message


@pytest.mark.parametrize("check_every", [0.0, 1.0])
def test_the_refusal_holds_for_every_method_and_entry_point(check_every: float) -> None:
    schedule = {"kind": "adaptive", "monitor": ["R"], "check_every": check_every}
    match = r"adaptive reference 'treatment_start'.*initial counts: 'S' 1000, 'P' 0, 'R' 0"
    if check_every > 0:  # jump runs adaptive rules exactly only at visits
        with pytest.raises(InvalidScheduleError, match=match):
            dg.simulate(README_SPR, schedule, method="jump", **NO_R)
    with pytest.raises(InvalidScheduleError, match=match):
        dg.trace(README_SPR, schedule, initial={"S": 1000}, t_end=5.0, seed=1)
    with pytest.raises(InvalidScheduleError, match=match):
        dg.sweep(README_SPR, schedule, grid={"schedule.stop_below": [0.3, 0.5]}, **NO_R)


def test_a_biomarker_that_starts_at_zero_is_refused() -> None:
    model = {**README_SPR, "biomarker": {"production": {"S": 1.0}, "decay": 0.5, "initial": 0.0}}
    schedule = {"kind": "adaptive", "monitor": "biomarker"}
    with pytest.raises(InvalidScheduleError, match=r"biomarker starts at 0 \(biomarker initial 0"):
        dg.simulate(model, schedule, **NO_R)
    # At steady state from cells that produce nothing: 0 too.
    steady = {**README_SPR, "biomarker": {"production": {"R": 1.0}, "decay": 0.5}}
    with pytest.raises(InvalidScheduleError, match="biomarker initial 'steady'"):
        dg.simulate(steady, schedule, **NO_R)
    # A positive start runs.
    dg.simulate(
        {**README_SPR, "biomarker": {"production": {"S": 1.0}, "decay": 0.5}}, schedule, **NO_R
    )


@pytest.mark.parametrize(
    "spec",
    [
        {"reference": "absolute", "stop_below": 5.0, "resume_above": 10.0},
        {"start": {"detect": 10.0}},  # the reference is taken at detection, >= 10 cells
        {"start": "off", "max_holiday": 5.0},  # taken when treatment starts: not at t = 0
        {"rules": [{"from": "on", "to": "off", "below": 3.0, "absolute": True}]},
    ],
)
def test_a_reference_not_taken_at_the_start_from_zero_is_not_refused(spec: dict[str, Any]) -> None:
    ds = dg.simulate(README_SPR, {"kind": "adaptive", "monitor": ["R"], **spec}, **NO_R)
    assert ds.sizes["replicate"] == 2


def test_treatment_started_at_zero_burden_leaves_the_reference_undefined() -> None:
    # Treatment starts at the end of the 5-day holiday with no R cell: no reference is taken, so
    # stop and resume (relative) wait; before, the reference 0 flipped the exposure at every
    # event.
    schedule = {"kind": "adaptive", "monitor": ["R"], "start": "off", "max_holiday": 5.0}
    for method, check_every in (("ssa", 0.0), ("ssa", 1.0), ("jump", 1.0)):
        ds = dg.simulate(
            README_SPR,
            {**schedule, "check_every": check_every},
            method=method,
            record_every=1.0,
            **NO_R,
        )
        np.testing.assert_array_equal(ds["n_switches"].values, [1, 1])
        np.testing.assert_array_equal(ds["treatment_start_time"].values, [5.0, 5.0])
        exposure = ds["exposure"].values  # int8 codes; record times 0, 1, ..., 20
        assert (exposure[:, :5] == OFF).all()
        assert (exposure[:, 5:] == ON).all()


def _clone_trace(schedule: dict[str, Any], seed: int) -> dict[str, Any]:
    return dict(dg.trace(CLONE, schedule, initial={"S": 100, "R": 1}, t_end=60.0, seed=seed))


LAST_SWITCH = {
    "kind": "adaptive",
    "monitor": ["R"],
    "reference": "last_switch",
    "stop_below": 0.5,
    "resume_above": 1.5,
    "min_on": 3.0,
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_switch_at_zero_burden_keeps_the_last_switch_reference(seed: int) -> None:
    # The R cell dies on drug within 3 days (probability 1 - e^-15), so treatment stops at the
    # min_on timer at a burden of 0, and the reference stays 1 (the burden at t = 0): treatment
    # resumes when R, back by mutation, reaches 1.5 x 1 = 2 cells. Before, the reference became
    # 0 and the exposure flipped back at once.
    tr = _clone_trace(LAST_SWITCH, seed)
    exposure, counts = tr["exposure"], tr["count"][:, 1]
    assert exposure[0] == ON
    changes = np.nonzero(np.diff(exposure))[0] + 1
    assert changes.size >= 2
    reference, since = 1.0, 0
    for k in changes:
        burden = float(counts[k - 1])  # after the event (or at the timer) that switched
        if exposure[k] == OFF:
            assert burden <= 0.5 * reference
        else:
            # The first event since the stop at which the burden reached 1.5 x the reference.
            assert burden >= 1.5 * reference
            assert (counts[since : k - 1] < 1.5 * reference).all()
        if burden > 0:
            reference = burden
        since = k
    assert exposure[changes[0]] == OFF
    assert counts[changes[0] - 1] == 0  # the first stop was at a burden of 0
    assert exposure[changes[1]] == ON
    assert counts[changes[1] - 1] == 2  # resumed at 1.5 x 1, not at once


@pytest.mark.parametrize(("method", "check_every"), [("ssa", 0.0), ("ssa", 1.0), ("jump", 1.0)])
def test_no_chattering_after_a_switch_at_zero_burden(method: str, check_every: float) -> None:
    # Without mutation R never comes back: treatment stops at the min_on timer (t = 3, also a
    # visit) at a burden of 0 and, with the reference kept at 1, never resumes. Before, the
    # reference 0 made it resume at once and stop again at every event or visit after min_on.
    model = {**CLONE, "mutation": []}
    ds = dg.simulate(
        model,
        {**LAST_SWITCH, "check_every": check_every},
        initial={"S": 100, "R": 1},
        t_end=30.0,
        n_replicates=4,
        seed=4,
        n_threads=1,
        method=method,
    )
    np.testing.assert_array_equal(ds["n_switches"].values, [1, 1, 1, 1])
    np.testing.assert_array_equal(ds["time_on_drug"].values, [3.0] * 4)
