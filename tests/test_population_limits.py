"""The engine's own population limits: 2^50 cells for jump runs, 2^63 - 1 for every run.

``method="auto"`` costs SSA's expected events from the initial population and the rates to
``t_end`` (or ``max_population``), past the jump runs' limit where the jumps' cost stops: a tumour
of 2^50 cells or more is never costed at 0 events by SSA (it once was, both costs came out 0, and
SSA won the tie and ran for ever), so auto runs jumps, which stop at once with status
``max_population`` and say so. The words that name the limit a replicate stopped at name the
engine's limit, not a ``max_population`` the user never set.
"""

import json
import math
import time
import warnings
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import _auto
from dtp_gillespie import conventions as cv
from dtp_gillespie._method import JUMP_POPULATION_LIMIT, POPULATION_LIMIT, population_cap_words
from dtp_gillespie.simulate import prepare

B, D = 0.04, 0.01
M1: dict[str, Any] = {"states": ["S"], "division": {"S": B}, "death": {"S": D}}
HUGE = 2**51


def expected_events(n0: float, t: float) -> float:
    """Expected events of a birth-death process from ``n0`` cells over ``[0, t]`` (Kendall)."""
    r = B - D
    return n0 * (B + D) * math.expm1(r * t) / r


def estimate(initial: int, t_end: float, **kw: Any) -> _auto.Estimate:
    prep = prepare(M1, "on", initial={"S": initial}, t_end=t_end, method="auto")
    return _auto.estimate(
        prep.core_model,
        prep.core_schedule,
        initial=[initial],
        times=prep.times,
        t_end=t_end,
        step=0.5,
        threshold=1000.0,
        n_replicates=1,
        **{"max_population": None, **kw},
    )


def auto_prep(initial: int, t_end: float, model: dict[str, Any] = M1, **kw: Any) -> Any:
    return prepare(model, "on", initial={"S": initial}, t_end=t_end, method="auto", **kw)


@pytest.mark.parametrize("t_end", [1e-6, 1.0, 60.0])
def test_ssa_events_of_a_tumour_past_the_jump_limit_are_not_zero(t_end: float) -> None:
    est = estimate(HUGE, t_end)
    assert est.events == pytest.approx(expected_events(HUGE, t_end), rel=1e-9)
    assert est.ssa_seconds > 0
    assert est.capped_at == 0.0
    assert est.capped_by == "jump limit"
    assert est.steps == 0


def test_ssa_events_go_on_past_the_jump_limit_reached_mid_run() -> None:
    # 2^49 cells growing at 0.03 a day reach 2^50 at ln 2 / 0.03 = 23.1 days.
    est = estimate(2**49, 40.0)
    assert est.events == pytest.approx(expected_events(2**49, 40.0), rel=1e-9)
    assert est.capped_by == "jump limit"
    assert est.capped_at == pytest.approx(23.5)  # the first step end past 2^50
    assert est.steps == 47


def test_ssa_events_stop_at_the_users_max_population() -> None:
    # The user's cap stops SSA too: its events are those of the path up to the cap.
    cap = 2 * 10**6
    est = estimate(10**6, 40.0, max_population=cap)
    assert est.capped_by == "max_population"
    assert est.capped_at == pytest.approx(23.5)
    # The events of the path up to the step end where it reaches the cap, not to t_end.
    assert est.events == pytest.approx(expected_events(10**6, 23.5), rel=1e-9)
    # A cap above the jump limit: jumps stop at the limit, SSA at the cap.
    est = estimate(2**49, 40.0, max_population=2**51)
    assert est.capped_by == "jump limit"
    # Checked at the gaps' ends: the one gap past 2^50 (to t_end) is counted whole.
    assert est.events == pytest.approx(expected_events(2**49, 40.0), rel=1e-9)


def test_a_path_that_overflows_the_floats_costs_ssa_infinity_without_warnings() -> None:
    model = {"states": ["S"], "division": {"S": 1.0}, "death": {"S": 0.01}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prep = auto_prep(HUGE, 2000.0, model)
    assert prep.core_run.get("method") == "jump"
    assert prep.auto_attrs["auto_expected_events"] == math.inf


def test_auto_runs_jumps_for_a_tumour_past_the_jump_limit_and_they_stop_at_once() -> None:
    # The audit's case: SSA would fire ~10^13 events; it used to run for ever.
    for t_end in (1e-6, 1.0):
        prep = auto_prep(HUGE, t_end)
        assert prep.core_run.get("method") == "jump"
        text = prep.auto_attrs["auto"]
        assert "ran exact population jumps" in text
        assert "population limit of 2^50 cells at t = 0" in text
        assert "status max_population" in text
        assert prep.auto_attrs["auto_ssa_seconds"] > 0.1
        assert prep.auto_attrs["auto_expected_events"] == pytest.approx(
            expected_events(HUGE, t_end), rel=1e-9
        )
    started = time.perf_counter()
    with pytest.warns(UserWarning, match="stopped early"):
        ds = dg.simulate(
            M1, "on", initial={"S": HUGE}, t_end=1.0, n_replicates=1, seed=1, method="auto"
        )
    assert time.perf_counter() - started < 30
    assert ds.attrs["algorithm"] == "jump"
    assert json.loads(ds.attrs["run"])["method"] == "auto"
    assert ds["status"].item() == cv.STATUS_MAX_POPULATION
    assert float(ds["stop_time"].item()) == 0.0
    # Bit for bit the jump run it chose.
    with pytest.warns(UserWarning, match="stopped early"):
        jump = dg.simulate(
            M1, "on", initial={"S": HUGE}, t_end=1.0, n_replicates=1, seed=1, method="jump"
        )
    np.testing.assert_array_equal(ds["count"].to_numpy(), jump["count"].to_numpy())


def test_a_frozen_tumour_past_the_jump_limit_still_runs_ssa() -> None:
    # No event fires: SSA costs nothing and runs to t_end, where jumps would stop at once.
    frozen = {"states": ["S"], "division": {"S": 0.0}, "death": {"S": 0.0}}
    prep = auto_prep(HUGE, 5.0, frozen)
    assert prep.core_run.get("method") is None
    assert prep.auto_attrs["auto_expected_events"] == 0
    ds = dg.simulate(frozen, "on", initial={"S": HUGE}, t_end=5.0, seed=1, method="auto")
    assert ds.attrs["algorithm"] == "ssa"
    assert ds["count"].to_numpy()[0, -1, 0] == HUGE


def test_the_limits_match_the_engines() -> None:
    assert JUMP_POPULATION_LIMIT == 2**50
    assert np.iinfo(np.int64).max == POPULATION_LIMIT


@pytest.mark.parametrize(
    ("run", "words"),
    [
        ({"max_population": None}, "the engine's population limit of 2^63 - 1 cells"),
        ({"max_population": None, "method": "jump"}, "the jump runs' population limit of 2^50"),
        ({"max_population": 5, "method": "jump"}, "at max_population=5"),
        ({"max_population": 5}, "at max_population=5"),
        ({"max_population": 2**50, "method": "jump"}, f"at max_population={2**50}"),
        (
            {"max_population": 2**51, "method": "jump"},
            f"the jump runs' population limit of 2^50 cells, below max_population={2**51}",
        ),
    ],
)
def test_the_cap_is_named_as_the_one_in_force(run: dict[str, Any], words: str) -> None:
    text = population_cap_words(run)
    assert words in text
    assert ("max_population=None" in text) is False


@pytest.mark.parametrize(
    ("initial", "kw", "words"),
    [
        (HUGE, {"method": "jump"}, "1 at the jump runs' population limit of 2^50 cells"),
        (HUGE, {"method": "auto"}, "1 at the jump runs' population limit of 2^50 cells"),
        (POPULATION_LIMIT, {}, "1 at the engine's population limit of 2^63 - 1 cells"),
        (1000, {"method": "jump", "max_population": 1001}, "1 at max_population=1001"),
    ],
)
def test_the_warning_names_the_cap_in_force(initial: int, kw: dict[str, Any], words: str) -> None:
    with pytest.warns(UserWarning, match="stopped early") as caught:
        dg.simulate(M1, "on", initial={"S": initial}, t_end=1.0, seed=1, **kw)
    (message,) = [str(w.message) for w in caught]
    assert words in message
    assert "max_population=None" not in message
