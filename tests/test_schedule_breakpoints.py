"""The engine's segment arithmetic as Python sees it: ``_core.breakpoints`` and
``_core.segment_count`` (``Schedule::breakpoints`` / ``segment_count`` in ``schedule.rs``), which
combinations merge and the bound of 10⁶ breakpoints counts.

The reference below is the arithmetic the package once had in Python (start of segment k = stored
start + whole cycles × period): the engine must agree with it bit for bit."""

import math

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import _core
from dtp_gillespie.errors import InvalidScheduleError
from hypothesis import given, settings
from hypothesis import strategies as st

MAX_SEGMENTS = 1_000_000


def table(
    starts: list[float], exposures: list[int], cycle_start: int | None, period: float
) -> dict[str, object]:
    return {
        "kind": "fixed",
        "treating": [True] * (max(exposures) + 1),
        "segment_start": starts,
        "segment_exposure": exposures,
        "cycle_start": cycle_start,
        "period": period,
    }


def reference_breakpoints(
    starts: list[float], exposures: list[int], cycle_start: int | None, period: float, t_end: float
) -> tuple[list[float], list[int]]:
    if cycle_start is None:
        keep = [k for k, s in enumerate(starts) if s <= t_end]
        return [starts[k] for k in keep], [exposures[k] for k in keep]
    out_t: list[float] = []
    out_e: list[int] = []
    length = len(starts) - cycle_start
    index = 0
    while True:
        if index < cycle_start:
            pos, cycles = index, 0
        else:
            k = index - cycle_start
            pos, cycles = cycle_start + k % length, k // length
        t = starts[pos] + float(cycles) * period if cycles else starts[pos]
        if t > t_end:
            return out_t, out_e
        out_t.append(t)
        out_e.append(exposures[pos])
        index += 1


def reference_count(
    starts: list[float], cycle_start: int | None, period: float, t_end: float
) -> float:
    if cycle_start is None:
        return float(sum(s <= t_end for s in starts))
    cycles = max(t_end - starts[cycle_start], 0.0) / period + 1.0
    return cycle_start + (len(starts) - cycle_start) * cycles


durations = st.floats(1e-3, 50.0, allow_nan=False)


@st.composite
def intermittent_tables(draw: st.DrawFn) -> tuple[list[float], list[int], int, float]:
    """What ``Schedule.intermittent`` compiles to, with and without a delay."""
    first, second = draw(durations), draw(durations)
    delay = draw(st.one_of(st.just(0.0), durations))
    if delay > 0:
        return [0.0, delay, delay + first], [0, 1, 0], 1, first + second
    return [0.0, first], [1, 0], 0, first + second


@settings(max_examples=200, deadline=None)
@given(intermittent_tables(), st.floats(0.0, 2000.0))
def test_breakpoints_and_count_agree_bit_for_bit_with_the_reference(
    case: tuple[list[float], list[int], int, float], t_end: float
) -> None:
    starts, _exposures, cycle_start, period = case
    count = _core.segment_count(table(*case), t_end)
    assert count == reference_count(starts, cycle_start, period, t_end)
    if count > MAX_SEGMENTS:
        return
    times, index = _core.breakpoints(table(*case), t_end, MAX_SEGMENTS)
    ref_times, ref_index = reference_breakpoints(*case, t_end)
    assert [t.hex() for t in times] == [t.hex() for t in ref_times]
    assert index == ref_index
    assert len(times) <= count


@settings(max_examples=50, deadline=None)
@given(intermittent_tables(), st.floats(0.0, 500.0))
def test_every_breakpoint_is_where_the_engine_switches(
    case: tuple[list[float], list[int], int, float], t_end: float
) -> None:
    times, index = _core.breakpoints(table(*case), t_end, MAX_SEGMENTS)
    assert times[0] == 0.0
    assert times[-1] <= t_end
    assert list(_core.exposure_at(table(*case), times)) == index


def test_a_plain_list_ends_with_its_last_segment() -> None:
    plain = table([0.0, 1.0, 2.5], [0, 1, 0], None, 0.0)
    assert _core.breakpoints(plain, math.inf, 3) == ([0.0, 1.0, 2.5], [0, 1, 0])
    assert _core.breakpoints(plain, 2.0, 3) == ([0.0, 1.0], [0, 1])
    assert _core.segment_count(plain, 2.0) == 2.0
    assert _core.segment_count(plain, math.inf) == 3.0


def test_breakpoints_beyond_the_limit_are_a_typed_error_not_a_hang() -> None:
    daily = table([0.0, 1.0], [1, 0], 0, 2.0)
    assert _core.breakpoints(daily, 9.0, 10)[0] == [float(k) for k in range(10)]
    with pytest.raises(InvalidScheduleError, match="more than 9 segments"):
        _core.breakpoints(daily, 9.0, 9)
    with pytest.raises(InvalidScheduleError, match="more than 100 segments"):
        _core.breakpoints(daily, math.inf, 100)
    assert _core.segment_count(daily, math.inf) == math.inf
    assert math.isnan(_core.segment_count(daily, math.nan))
    assert _core.breakpoints(daily, math.nan, 10) == ([], [])


def test_a_table_the_engine_refuses_is_refused_here_too() -> None:
    with pytest.raises(InvalidScheduleError, match="first segment starts at"):
        _core.segment_count(table([1.0], [0], None, 0.0), 5.0)
    with pytest.raises(InvalidScheduleError, match="period"):
        _core.breakpoints(table([0.0, 5.0], [0, 1], 0, 5.0), 5.0, 10)


def test_the_bound_on_segments_names_the_schedule() -> None:
    spec = {
        "states": ["S"],
        "exposures": ["off", "on"],
        "division": {"S": 0.1},
        "death": {"S": 0.1},
    }
    model = dg.Model.from_dict(spec)
    drug_model = dg.Model.from_dict({**spec, "exposures": ["off", "A"]})
    fast = {"kind": "intermittent", "on": 1e-4, "off": 1e-4}
    with pytest.raises(InvalidScheduleError, match=r"intermittent schedule has 1e\+06 segments"):
        dg.Schedule.from_dict(fast).compile(model, 99.9999)
    combination = dg.Schedule.combination({"A": fast}, none="off")
    with pytest.raises(InvalidScheduleError, match=r"combination drugs\.A has .* segments"):
        combination.compile(drug_model, 1e3)
    # Just within the bound: every segment, as the engine steps through them.
    ok = dg.Schedule.from_dict({"kind": "intermittent", "on": 0.5, "off": 0.5})
    compiled = ok.compile(model, 1e5)
    assert compiled["segment_start"] == [0.0, 0.5]
    assert compiled["period"] == 1.0
    merged = dg.Schedule.combination({"A": ok}).compile(drug_model, 10.0)
    assert merged["segment_start"] == [k / 2 for k in range(21)]
    assert np.array_equal(merged["segment_exposure"], [1, 0] * 10 + [1])
