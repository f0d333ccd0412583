"""Extreme but finite inputs: every call returns within seconds, with finite outputs (or a status
saying why a replicate stopped) or a typed error. Never a hang, a panic or a silently wrong
number.

Calls that could hang run in a worker process with a watchdog: a call that does not answer in
time fails the test (and the worker is killed), instead of hanging the suite.
"""

import json
import math
import select
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import conventions as cv
from dtp_gillespie.errors import InvalidModelError, InvalidScheduleError
from hypothesis import given
from hypothesis import strategies as st
from interruptible import start_python

TINY = 5e-324  # the smallest subnormal
WATCHDOG = 10.0  # seconds a single call may take
TYPED = ("InvalidModelError", "InvalidScheduleError", "InvalidRunError")

# The worker: one JSON job per line in, one JSON answer per line out. It checks the outputs
# itself, so only a short verdict crosses the pipe.
WORKER = r"""
import json, sys, warnings
import numpy as np
import dtp_gillespie as dg
from dtp_gillespie import conventions as cv

warnings.simplefilter("ignore")

def finite_outputs(ds):
    status = ds[cv.STATUS].values
    known = ds[cv.COUNT].values >= 0
    problems = []
    if not np.isin(status, list(cv.STATUS_CODES.values())).all():
        problems.append(f"status {status}")
    if not np.isfinite(ds[cv.STOP_TIME].values).all():
        problems.append("stop_time")
    if not np.isfinite(ds[cv.TIME_ON_DRUG].values).all():
        problems.append("time_on_drug")
    if not ((ds[cv.COUNT].values >= 0) | (ds[cv.COUNT].values == cv.COUNT_UNKNOWN)).all():
        problems.append("count")
    for name in (cv.BIOMARKER, cv.CONCENTRATION):
        if name in ds:
            values = ds[name].values
            if not np.isfinite(values[known.all(axis=-1)]).all():
                problems.append(name)
    return problems

for line in sys.stdin:
    job = json.loads(line)
    try:
        if job["call"] == "exposure_at":
            schedule = dg.Schedule.from_dict(job["schedule"])
            schedule.exposure_at(job["times"])
            answer = {"ok": []}
        else:
            ds = dg.simulate(job["model"], job["schedule"], **job["run"])
            answer = {"ok": finite_outputs(ds), "status": ds[cv.STATUS].values.tolist()}
    except dg.errors.DtpGillespieError as exc:
        answer = {"typed": type(exc).__name__, "message": str(exc)}
    except Exception as exc:
        answer = {"untyped": repr(exc)}
    print(json.dumps(answer), flush=True)
"""


class Worker:
    """A Python process that runs calls for the tests, each under a watchdog."""

    def __init__(self) -> None:
        self.proc = self._start()

    @staticmethod
    def _start() -> subprocess.Popen[bytes]:
        # Unbuffered bytes: a line is read byte by byte, so select() never misses a buffered one.
        return subprocess.Popen(
            [sys.executable, "-c", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )

    def call(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job; fail (and restart the worker) if it takes longer than the watchdog."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], WATCHDOG)
        if not ready:
            self.proc.kill()
            self.proc.communicate()  # reaps it and closes its pipes
            self.proc = self._start()
            pytest.fail(f"no answer within {WATCHDOG} s (a hang) for {job}")
        line = self.proc.stdout.readline()
        if not line:
            pytest.fail(f"the worker died on {job}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """End the worker (end of its input) and close its pipes."""
        self.proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.close()


def assert_returns_cleanly(answer: dict[str, Any]) -> None:
    """Finite outputs, or a typed error."""
    assert "untyped" not in answer, answer
    if "typed" in answer:
        assert answer["typed"] in TYPED, answer
    else:
        assert answer["ok"] == [], answer


# ---------------------------------------------------------------------------- the fuzz test

extreme_rates = st.sampled_from([0.0, TINY, 1e-300, 1e-3, 1.0, 1e100, 1e300, 1e308]) | st.floats(
    0.0, 1e308
)
capacities = st.sampled_from([TINY, 1e-300, 1e-10, 1.0, 1e300]) | st.floats(TINY, 1e308)
durations = st.sampled_from([1e-12, 1e-9, 1e-3, 1.0, 1e15, 1e300]) | st.floats(1e-12, 1e300)
horizons = st.sampled_from([1e-12, 1.0, 100.0, 1e15, 1e300]) | st.floats(1e-12, 1e300)


@st.composite
def extreme_models(draw: st.DrawFn) -> dict[str, Any]:
    per_exposure = st.fixed_dictionaries({"off": extreme_rates, "on": extreme_rates})
    model: dict[str, Any] = {
        "states": ["S", "R"],
        "exposures": ["off", "on"],
        "division": {"S": draw(per_exposure), "R": draw(extreme_rates)},
        "death": {"S": draw(per_exposure), "R": draw(extreme_rates)},
        "switching": {"S": {"R": draw(extreme_rates)}},
    }
    form = draw(st.sampled_from(["none", "capacity", "competition", "biomarker"]))
    on = draw(st.sampled_from(["division", "death"]))
    if form == "capacity":
        model["capacity"] = {"K": draw(capacities), "on": on}
    elif form == "competition":
        model["competition"] = {
            "on": on,
            "states": {"S": {"K": draw(capacities), "alpha": {"S": 1.0, "R": draw(extreme_rates)}}},
        }
    elif form == "biomarker":
        model["biomarker"] = {
            "production": {"S": draw(extreme_rates), "R": 1.0},
            "decay": draw(st.sampled_from([TINY, 1e-300, 1.0, 1e300])),
        }
    return model


@st.composite
def extreme_schedules(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["continuous", "intermittent", "adaptive", "pk"]))
    if kind == "continuous":
        return {"kind": "continuous", "exposure": "on"}
    if kind == "intermittent":
        return {"kind": "intermittent", "on": draw(durations), "off": draw(durations)}
    if kind == "adaptive":
        return {
            "kind": "adaptive",
            "stop_below": 0.5,
            "resume_above": 1.0,
            "check_every": draw(st.sampled_from([0.0, TINY, 1e-12, 1.0])),
            "max_holiday": draw(st.none() | durations),
        }
    return {
        "kind": "pk",
        "dose": draw(st.sampled_from([0.0, 1.0, 1e300, 1e308])),
        "half_life": draw(st.sampled_from([TINY, 1e-300, 1e-12, 1.0, 1e300])),
        "dose_every": draw(durations),
    }


@given(
    model=extreme_models(),
    schedule=extreme_schedules(),
    t_end=horizons,
    initial=st.sampled_from([1, 2, 100, 2**40]),
)
def test_extreme_finite_inputs_return_promptly_and_cleanly(
    worker: Worker, model: dict[str, Any], schedule: dict[str, Any], t_end: float, initial: int
) -> None:
    run = {
        "initial": {"S": initial, "R": 1},
        "t_end": t_end,
        "times": [0.0, t_end / 2, t_end],
        "max_events": 2000,
        "n_replicates": 2,
        "seed": 1,
        "n_threads": 1,
    }
    assert_returns_cleanly(
        worker.call({"call": "simulate", "model": model, "schedule": schedule, "run": run})
    )


@given(on=durations, off=durations, t=horizons)
def test_exposure_at_returns_promptly_at_any_time(
    worker: Worker, on: float, off: float, t: float
) -> None:
    schedule = {"kind": "intermittent", "on": on, "off": off}
    answer = worker.call({"call": "exposure_at", "schedule": schedule, "times": [t]})
    assert_returns_cleanly(answer)


# ---------------------------------------------------------------------------- one per item

ONE_CELL_TYPE = {"states": ["S"], "exposures": ["on"]}


def test_an_overflowing_total_rate_stops_with_rate_overflow(worker: Worker) -> None:
    # Item 3: two cells dying at 1e308 per day once hung with max_events=10.
    model = {**ONE_CELL_TYPE, "death": {"S": 1e308}}
    run = {"initial": {"S": 2}, "t_end": 1.0, "max_events": 10, "seed": 1}
    answer = worker.call({"call": "simulate", "model": model, "schedule": "on", "run": run})
    assert answer == {"ok": [], "status": [cv.STATUS_RATE_OVERFLOW]}
    # In process now that it returns: the output says so, and a warning names it.
    with pytest.warns(UserWarning, match="1 at rate_overflow"):
        ds = dg.simulate(model, "on", **run)
    assert ds[cv.STATUS].attrs["flag_meanings"].split()[cv.STATUS_RATE_OVERFLOW] == "rate_overflow"
    assert (ds[cv.COUNT].values[0, 1:] == cv.COUNT_UNKNOWN).all()


def test_a_huge_rate_on_a_huge_population_honours_max_events(worker: Worker) -> None:
    # Item 3, second case: 1e100 per cell on about 2^52 cells.
    model = {**ONE_CELL_TYPE, "death": {"S": 1e100}}
    for n in (2**52 - 10, 2**52 + 10):
        run = {"initial": {"S": n}, "t_end": 1.0, "max_events": 10, "seed": 1}
        answer = worker.call({"call": "simulate", "model": model, "schedule": "on", "run": run})
        assert answer == {"ok": [], "status": [cv.STATUS_MAX_EVENTS]}


def test_exposure_at_far_beyond_the_period_is_prompt(worker: Worker) -> None:
    # Item 4: this held the GIL forever.
    answer = worker.call(
        {
            "call": "exposure_at",
            "schedule": {"kind": "intermittent", "on": 1, "off": 1},
            "times": [1e20],
        }
    )
    assert answer["typed"] == "InvalidScheduleError"
    assert "beyond" in answer["message"]
    # Times the index arithmetic covers agree with the engine's segment boundaries.
    schedule = dg.Schedule.intermittent(1, 1)
    assert list(schedule.exposure_at([2e15, 2e15 + 1, 2e15 + 1.5])) == ["on", "off", "off"]


@pytest.mark.parametrize(
    ("on", "t_end"),
    [(1.0, 1e20), (1e-9, 1e15), (1e-9, 100.0)],
)
def test_repeating_schedules_are_bounded(worker: Worker, on: float, t_end: float) -> None:
    # Items 4 and 12: 1/1 over 1e20 days and 1e-9/1e-9 over 1e15 hung; over 100 days they were
    # 1e11 breakpoints that max_events could not limit.
    model = {"states": ["S"], "exposures": ["off", "on"], "death": {"S": 0.1}}
    schedule = {"kind": "intermittent", "on": on, "off": on}
    run = {"initial": {"S": 2}, "t_end": t_end, "seed": 1}
    answer = worker.call({"call": "simulate", "model": model, "schedule": schedule, "run": run})
    assert answer["typed"] == "InvalidScheduleError"
    assert "more than 1000000 segments" in answer["message"]


ADAPTIVE_MODEL = {
    "states": ["S"],
    "exposures": ["off", "on"],
    "division": {"S": {"off": 0.1, "on": 0.0}},
    "death": {"S": 0.05},
}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"check_every": TINY}, "visits"),
        ({"max_holiday": 1e-9}, "timer checks"),
        ({"rules": [{"from": "off", "to": "on", "after": 1e-9}]}, "timer checks"),
    ],
)
def test_adaptive_schedules_are_bounded(worker: Worker, spec: dict[str, Any], message: str) -> None:
    # Item 12: check_every = 5e-324 was unbounded work.
    base = {} if "rules" in spec else {"stop_below": 0.5, "resume_above": 1.0}
    schedule = {"kind": "adaptive", **base, **spec}
    run = {"initial": {"S": 10}, "t_end": 100, "seed": 1}
    answer = worker.call(
        {"call": "simulate", "model": ADAPTIVE_MODEL, "schedule": schedule, "run": run}
    )
    assert answer["typed"] == "InvalidScheduleError"
    assert f"more than 1000000 {message}" in answer["message"]


def test_a_bounded_schedule_just_under_the_cap_still_runs() -> None:
    # The cap is on breakpoints, not on the time: 4e5 segments over 100 days run.
    model = {"states": ["S"], "exposures": ["off", "on"], "death": {"S": 0.01}}
    ds = dg.simulate(
        model, dg.Schedule.intermittent(5e-4, 5e-4), initial={"S": 2}, t_end=200, seed=1
    )
    assert ds[cv.STATUS].values[0] in (cv.STATUS_COMPLETED, cv.STATUS_EXTINCT)


@pytest.mark.parametrize("k", [TINY, 1e-300])
def test_a_subnormal_capacity_on_death_keeps_the_death_rate(k: float) -> None:
    # Item 6: with division = death the death rate is the death rate at any crowding; K = 5e-324
    # made it 0 (and K = 1e-300 too, by cancellation).
    base = {"states": ["S"], "exposures": ["on"], "division": {"S": 1.0}, "death": {"S": 1.0}}
    run = {"initial": {"S": 5}, "t_end": 3.0, "n_replicates": 50, "seed": 1, "record_every": 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = dg.simulate(base, "on", **run)
        crowded = dg.simulate({**base, "capacity": {"K": k, "on": "death"}}, "on", **run)
    assert plain[cv.N_EVENTS].values.sum() > 0
    np.testing.assert_array_equal(crowded[cv.COUNT].values, plain[cv.COUNT].values)
    np.testing.assert_array_equal(crowded[cv.N_EVENTS].values, plain[cv.N_EVENTS].values)


@pytest.mark.parametrize(("production", "decay"), [(1e308, 1.0), (1.0, TINY), (1e300, 1e-300)])
def test_a_biomarker_that_would_overflow_is_refused(production: float, decay: float) -> None:
    # Item 6: production 1e308 or decay 5e-324 recorded inf, then nan.
    model = {
        **ONE_CELL_TYPE,
        "division": {"S": 1.0},
        "biomarker": {"production": {"S": production}, "decay": decay},
    }
    with pytest.raises(InvalidModelError, match="biomarker production"):
        dg.Model.from_dict(model)


def test_the_largest_accepted_biomarker_stays_finite() -> None:
    bound = dg.model.MAX_BIOMARKER_PRODUCTION
    model = {
        **ONE_CELL_TYPE,
        "division": {"S": 1.0},
        "biomarker": {"production": {"S": bound}, "decay": 1.0},
    }
    ds = dg.simulate(model, "on", initial={"S": 2**40}, t_end=1e-9, seed=1, max_population=2**62)
    assert np.isfinite(ds[cv.BIOMARKER].values).all()


@pytest.mark.parametrize(
    ("spec", "message"),
    [({"dose": 1e308}, "pk dose"), ({"half_life": TINY}, "pk half_life")],
)
def test_pk_values_that_would_overflow_are_refused(spec: dict[str, Any], message: str) -> None:
    # Item 6: dose 1e308 recorded an inf concentration, half_life 5e-324 a NaN one.
    with pytest.raises(InvalidScheduleError, match=message):
        dg.Schedule.pk(**{"half_life": 1.0, **spec})


# ---------------------------------------------------------------------------- Ctrl-C

INTERRUPTIBLE = """
import sys, warnings
import dtp_gillespie as dg
warnings.simplefilter("ignore")
# Warm up (the first call imports the output stack), so that the timing below is the call's.
dg.simulate({{"states": ["S"], "death": {{"S": 1.0}}}}, "on", initial={{"S": 1}}, t_end=1, seed=1)
print("started", flush=True)
try:
    {call}
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
except dg.errors.DtpGillespieError:
    print("refused", flush=True)
    sys.exit(0)
print("finished", flush=True)
"""

RETURNING = {
    # Item 3: an infinite total rate (now status rate_overflow at once).
    "overflow": 'dg.simulate({"states": ["S"], "death": {"S": 1e308}}, "on", initial={"S": 2}, '
    "t_end=1, max_events=10, seed=1)",
    # Item 4, in the API and in the engine (now typed errors at once).
    "exposure_at": "dg.Schedule.intermittent(1, 1).exposure_at([1e20])",
    "long schedule": 'dg.simulate({"states": ["S"], "exposures": ["off", "on"], '
    '"death": {"S": 0.1}}, dg.Schedule.intermittent(1, 1), initial={"S": 2}, t_end=1e20, seed=1)',
}
# Item 3: runs that take hours, in the hot loop, the general loop and under thinning.
LONG = {
    "huge rate": 'dg.simulate({"states": ["S"], "division": {"S": 1e290}, "death": {"S": 1e290}}, '
    '"on", initial={"S": 2**40}, t_end=1, seed=1, n_threads=1)',
    "huge rate, general loop": 'dg.simulate({"states": ["S"], "division": {"S": 1e290}, '
    '"death": {"S": 1e290}}, "on", initial={"S": 2**53}, t_end=1, seed=1, n_threads=1)',
    # Thinning: the drug is gone within 1e-9 days, but the rate bound of the dosing interval is
    # its value at the dose, so nearly every candidate (1e9 a day) is rejected: not an event.
    "pk rejections": 'dg.simulate({"states": ["S"], "exposures": ["off", "on"], '
    '"death": {"S": {"off": 0.0, "on": 1e6}}}, dg.Schedule.pk(dose=1e6, half_life=1e-9, '
    'dose_times=[0.0]), initial={"S": 1000}, t_end=100, seed=1, n_threads=1)',
}


def _start(call: str) -> subprocess.Popen[bytes]:
    proc = start_python(
        INTERRUPTIBLE.format(call=call),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # read line by line, so select() never misses a buffered line
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"started"
    return proc


@pytest.mark.parametrize("case", list(RETURNING))
def test_the_cases_that_hung_return_by_themselves(case: str) -> None:
    proc = _start(RETURNING[case])
    try:
        out, err = proc.communicate(timeout=WATCHDOG)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{case}: no answer within {WATCHDOG} s")
    assert out.strip() in (b"finished", b"refused"), err
    assert proc.returncode == 0, err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
@pytest.mark.parametrize("case", list(LONG))
def test_ctrl_c_stops_a_run_with_extreme_rates_within_a_second(case: str) -> None:
    proc = _start(LONG[case])
    time.sleep(0.5)  # well inside the run
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.stdout is not None
    answered, _, _ = select.select([proc.stdout], [], [], 10)
    elapsed = time.monotonic() - sent  # to the interrupt, not to the interpreter's exit
    if not answered:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{case}: still running 10 s after Ctrl-C")
    out, err = proc.communicate(timeout=30)
    assert out.strip() == b"interrupted", err
    assert proc.returncode == 0, err
    assert elapsed < 1.0, f"{case}: took {elapsed:.2f} s to stop"


def test_the_extreme_constants_are_what_the_docs_say() -> None:
    assert sys.float_info.max / 2.0**64 == dg.model.MAX_BIOMARKER_PRODUCTION
    assert math.isfinite(dg.model.MAX_BIOMARKER_PRODUCTION * 2.0**64)
    assert cv.STATUS_CODES["rate_overflow"] == 4
    assert cv.STATUS_RATE_OVERFLOW in cv.STATUS_CAPPED
