"""Run ensembles: validate run options, call the engine, build the output Dataset."""

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import _core
from . import conventions as cv
from ._checks import INT64_MAX, check_count, check_flag, is_real
from ._dataset import build_dataset
from ._memory import check_replicate_fits, check_run_fits, trace_event_cap
from ._seeding import SeedLike, normalise_seed, seed_from_attrs
from .errors import DtpGillespieError, InvalidRunError
from .model import Model
from .schedule import Schedule, _is_list, _monitor_weights

__all__ = ["Prepared", "prepare", "record_grid", "reproduce", "simulate", "trace"]

_GRID_TOL = 1e-9


def _check_cap(value: object, name: str) -> int | None:
    if value is None:
        return None
    return check_count(value, name, 1)


def _check_positive(value: object, name: str) -> float:
    ok = not isinstance(value, bool | np.bool_) and isinstance(
        value, int | float | np.integer | np.floating
    )
    try:
        x = float(value) if ok else math.nan  # type: ignore[arg-type]
    except OverflowError:
        x = math.inf
    if not (ok and math.isfinite(x) and x > 0):
        raise InvalidRunError(f"{name} is {value!r}; it must be a finite number > 0 (days)")
    return x


def _check_real_times(times: npt.ArrayLike) -> None:
    """Record times are real numbers: no strings or bools, which numpy would convert silently."""
    if isinstance(times, list | tuple):
        items: Sequence[object] = times
    else:
        arr = np.asarray(times)
        if arr.dtype.kind in "iuf":
            return
        if arr.dtype.kind != "O":
            raise InvalidRunError(
                f"times has dtype {arr.dtype}; record times must be real numbers (days)"
            )
        items = arr.ravel().tolist()
    for i, x in enumerate(items):
        if not is_real(x):
            raise InvalidRunError(
                f"times[{i}] is {x!r} ({type(x).__name__}); record times must be real numbers "
                "(days)"
            )


def record_grid(
    t_end: float, record_every: float | None = None, times: npt.ArrayLike | None = None
) -> npt.NDArray[np.float64]:
    """The record times of a run.

    Parameters
    ----------
    t_end : float
        End of the simulated interval (days, > 0).
    record_every : float, optional
        Grid step ``dt``: the times are ``k·dt`` for ``k = 0..floor(t_end/dt + 1e-9)`` (a last
        point within 1e-9 relative of ``t_end`` is set to ``t_end`` exactly), and ``t_end`` is
        appended when it is not already the last point.
    times : array_like, optional
        Explicit record times: finite, strictly increasing, within ``[0, t_end]``.

    Exactly one of ``record_every`` and ``times`` may be given; with neither, ``record_every =
    t_end`` (records 0 and ``t_end``).

    Returns
    -------
    numpy.ndarray of float64
    """
    t_end = _check_positive(t_end, "t_end")
    if record_every is not None and times is not None:
        raise InvalidRunError("give either record_every or times, not both")
    if times is not None:
        if isinstance(times, str | bytes):
            raise InvalidRunError(f"times is {times!r}; expected a list of numbers")
        _check_real_times(times)
        try:
            t = np.array(times, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidRunError(f"times is {times!r}; expected a list of numbers") from None
        if t.ndim != 1 or t.size == 0:
            raise InvalidRunError(f"times must be a non-empty 1-D list of numbers, got {times!r}")
        if not np.all(np.isfinite(t)):
            raise InvalidRunError("times must be finite")
        if t[0] < 0 or t[-1] > t_end:
            raise InvalidRunError(
                f"times must lie within [0, t_end] = [0, {t_end!r}]; "
                f"got {float(t[0])!r} .. {float(t[-1])!r}"
            )
        if np.any(np.diff(t) <= 0):
            k = int(np.argmax(np.diff(t) <= 0))
            raise InvalidRunError(
                f"times must be strictly increasing; times[{k + 1}] = {float(t[k + 1])!r} "
                f"follows {float(t[k])!r}"
            )
        return t
    dt = t_end if record_every is None else _check_positive(record_every, "record_every")
    n = math.floor(t_end / dt + _GRID_TOL)
    if n + 1 > 100_000_000:
        raise InvalidRunError(
            f"record_every = {dt!r} with t_end = {t_end!r} gives {n + 1} record times; too many"
        )
    grid = np.arange(n + 1, dtype=np.float64) * dt
    if abs(grid[-1] - t_end) <= _GRID_TOL * t_end:
        grid[-1] = t_end
    elif grid[-1] < t_end:
        grid = np.append(grid, t_end)
    return grid


_PROGRESSION_KEYS = ("factor", "size", "min_size", "monitor")


def _check_progression(
    progression: object, model: Model, schedule: Schedule
) -> dict[str, Any] | None:
    """Normalise the ``progression`` run option (None: no progression is tracked)."""
    if progression is None:
        return None
    if not isinstance(progression, Mapping):
        raise InvalidRunError(
            f"progression is {progression!r}; expected a table {{factor, min_size, size, monitor}}"
        )
    for key in progression:
        if key not in _PROGRESSION_KEYS:
            raise InvalidRunError(
                f"unknown key {key!r} in progression; allowed keys: {', '.join(_PROGRESSION_KEYS)}"
            )
    factor, size = progression.get("factor"), progression.get("size")
    min_size = progression.get("min_size")
    if factor is None and size is None:
        raise InvalidRunError(
            "progression needs factor (burden >= factor x nadir, with min_size) or size (burden "
            ">= size cells)"
        )
    out: dict[str, Any] = {"factor": None, "size": None, "min_size": 0.0}
    if factor is not None:
        x = _finite(factor, "progression factor")
        if not x > 1.0:
            raise InvalidRunError(
                f"progression factor is {factor!r}; it must be > 1 (progression when the burden "
                "reaches factor x its nadir so far)"
            )
        out["factor"] = x
        if min_size is None:
            # Without a floor a tumour shrunk to 1 cell "progresses" when that cell divides.
            raise InvalidRunError(
                f"progression factor {factor!r} needs min_size: progression is burden >= factor "
                "x nadir AND burden >= min_size, e.g. {'factor': 2.0, 'min_size': 1000} (cells, "
                "or biomarker units); without a floor, a tumour shrunk to 1 cell progresses "
                "when it divides (min_size = 0 allows that)"
            )
    if min_size is not None:
        x = _finite(min_size, "progression min_size")
        if not x >= 0.0:
            raise InvalidRunError(
                f"progression min_size is {min_size!r}; it must be >= 0 (the smallest burden "
                "that can progress)"
            )
        out["min_size"] = x
    if size is not None:
        x = _finite(size, "progression size")
        if not x > 0.0:
            raise InvalidRunError(f"progression size is {size!r}; it must be > 0 (cells)")
        out["size"] = x
    monitor = progression.get("monitor")
    if monitor == "biomarker":
        if model.biomarker is None:
            raise InvalidRunError(
                "progression monitor is 'biomarker', but the model has no biomarker (add a "
                "'biomarker' table to the model, or monitor states)"
            )
        out["monitor"] = "biomarker"
        return out
    if monitor is None:
        weights = schedule.monitor_weights(model)
    else:
        if not (_is_list(monitor) or isinstance(monitor, Mapping)):
            raise InvalidRunError(
                f"progression monitor is {monitor!r}; expected 'biomarker', a list of states or "
                "a table {state: weight}"
            )
        try:
            norm = Schedule._normalise_monitor(monitor, "progression monitor")
        except DtpGillespieError as exc:
            raise InvalidRunError(str(exc)) from None
        assert not isinstance(norm, str)
        weights = _monitor_weights(norm, model, "progression monitor", InvalidRunError)
    out["monitor"] = dict(zip(model.states, weights, strict=True))
    return out


def _progression_weights(prog: Mapping[str, Any], model: Model) -> list[float]:
    """The engine's burden weights of a normalised progression (unused for the biomarker)."""
    if prog["monitor"] == "biomarker":
        return [0.0] * len(model.states)
    return list(prog["monitor"].values())


def _finite(value: object, name: str) -> float:
    ok = not isinstance(value, bool | np.bool_) and isinstance(
        value, int | float | np.integer | np.floating
    )
    try:
        x = float(value) if ok else math.nan  # type: ignore[arg-type]
    except OverflowError:
        x = math.inf
    if not (ok and math.isfinite(x)):
        raise InvalidRunError(f"{name} is {value!r}; it must be a finite number")
    return x


def _check_initial(initial: object, model: Model) -> list[int]:
    if not isinstance(initial, Mapping):
        raise InvalidRunError(
            f"initial is {initial!r}; expected a table {{state: count}}, e.g. {{'S': 10000}}"
        )
    for key in initial:
        if key not in model.states:
            raise InvalidRunError(
                f"initial names unknown state {key!r}; the model's states are {list(model.states)}"
            )
    out = []
    for s in model.states:
        out.append(check_count(initial.get(s, 0), f"initial count of state {s!r}", 0))
    return out


def _coerce_model(model: object) -> Model:
    if isinstance(model, Model):
        return model
    if isinstance(model, Mapping):
        return Model.from_dict(model)
    raise InvalidRunError(f"model must be a Model or a spec dict, got {type(model).__name__}")


def _run_engine(
    core_model: dict[str, Any],
    core_schedule: dict[str, Any],
    core_run: dict[str, Any],
    progress: bool | str,
) -> dict[str, npt.NDArray[Any]]:
    if not progress:
        return _core.simulate_ensemble(core_model, core_schedule, core_run, None)
    from tqdm.auto import tqdm

    with tqdm(
        total=core_run["n_replicates"],
        unit="replicate",
        desc=progress if isinstance(progress, str) else "simulate",
    ) as bar:

        def report(done: int) -> None:
            bar.update(done - bar.n)

        out = _core.simulate_ensemble(core_model, core_schedule, core_run, report)
        bar.update(core_run["n_replicates"] - bar.n)
    return out


@dataclass(frozen=True)
class Prepared:
    """A validated run: the normalised specs and the engine's inputs.

    Attributes
    ----------
    model : Model
    schedule : Schedule
    times : numpy.ndarray
        Record times.
    run_spec : dict
        Normalised run spec (the ``run`` attribute of the output).
    seed_attrs : dict
        Seed provenance (``seed``, maybe ``seed_spawn_key``).
    core_model, core_schedule, core_run : dict
        The ``model``, ``schedule`` and ``run`` dicts of ``_core.simulate_ensemble``.
    """

    model: Model
    schedule: Schedule
    times: npt.NDArray[np.float64]
    run_spec: dict[str, Any]
    seed_attrs: dict[str, Any]
    core_model: dict[str, Any]
    core_schedule: dict[str, Any]
    core_run: dict[str, Any]


def prepare(
    model: Model | Mapping[str, Any],
    schedule: Schedule | Mapping[str, Any] | str,
    *,
    initial: Mapping[str, int],
    t_end: float,
    record_every: float | None = None,
    times: npt.ArrayLike | None = None,
    n_replicates: int = 1,
    seed: SeedLike = None,
    n_threads: int | None = None,
    replicate_offset: int = 0,
    max_events: int | None = None,
    max_population: int | None = None,
    progression: Mapping[str, Any] | None = None,
) -> Prepared:
    """Validate the arguments of :func:`simulate` and compile the engine's inputs (no run).

    Same parameters as :func:`simulate`. Useful to check a configuration before a long run and
    to call the engine directly in tests.

    Returns
    -------
    Prepared
    """
    m = _coerce_model(model)
    sched = Schedule.coerce(schedule)
    t_end_f = _check_positive(t_end, "t_end")
    core_schedule = sched.compile(m, t_end=t_end_f)
    prog = _check_progression(progression, m, sched)
    grid = record_grid(t_end_f, record_every, times)
    check_replicate_fits(
        grid.size,
        len(m.states),
        concentration=sched.kind == "pk",
        biomarker=m.biomarker is not None,
    )
    init = _check_initial(initial, m)
    n_rep = check_count(n_replicates, "n_replicates", 1)
    offset = check_count(replicate_offset, "replicate_offset", 0)
    if offset + n_rep - 1 > INT64_MAX:
        raise InvalidRunError("replicate_offset + n_replicates exceeds the int64 range")
    cap_events = _check_cap(max_events, "max_events")
    cap_pop = _check_cap(max_population, "max_population")
    threads = None if n_threads is None else check_count(n_threads, "n_threads", 1)
    seed_info = normalise_seed(seed)

    run_spec: dict[str, Any] = {
        "initial": dict(zip(m.states, init, strict=True)),
        "t_end": t_end_f,
    }
    if times is not None:
        run_spec["times"] = [float(x) for x in grid]
    else:
        run_spec["record_every"] = t_end_f if record_every is None else float(record_every)
    run_spec |= {
        "n_replicates": n_rep,
        "replicate_offset": offset,
        "max_events": cap_events,
        "max_population": cap_pop,
        "progression": prog,
        **seed_info.attrs,
    }
    core_run = {
        "initial": init,
        "record_times": [float(x) for x in grid],
        "t_end": t_end_f,
        "max_events": cap_events,
        "max_population": cap_pop,
        "seed_key": seed_info.key,
        "replicate_offset": offset,
        "n_replicates": n_rep,
        "n_threads": threads,
        "progression_weights": None if prog is None else _progression_weights(prog, m),
        "progression_biomarker": prog is not None and prog["monitor"] == "biomarker",
        "progression_factor": None if prog is None else prog["factor"],
        "progression_size": None if prog is None else prog["size"],
        "progression_min_size": None if prog is None else prog["min_size"],
    }
    return Prepared(
        model=m,
        schedule=sched,
        times=grid,
        run_spec=run_spec,
        seed_attrs=dict(seed_info.attrs),
        core_model=m.compile(),
        core_schedule=core_schedule,
        core_run=core_run,
    )


def trace(
    model: Model | Mapping[str, Any],
    schedule: Schedule | Mapping[str, Any] | str,
    *,
    initial: Mapping[str, int],
    t_end: float,
    seed: SeedLike,
    replicate: int = 0,
    max_events: int | None = None,
    max_population: int | None = None,
) -> dict[str, Any]:
    """Every event of one replicate, for tests and small runs.

    The trajectory is replicate ``replicate`` (global index) of :func:`simulate` with the same
    model, schedule, initial, t_end, caps and seed. The trace grows with every event: a
    ``max_events`` whose trace could outgrow the memory limit is refused, and without
    ``max_events`` the trace stops (status ``max_events``) at the number of events the limit
    holds (:mod:`dtp_gillespie._memory`).

    Returns
    -------
    dict
        ``time`` (n_events + 1,) float64 starting at 0, ``channel`` (n_events + 1,) int32 (index
        into :meth:`Model.channel_names`, -1 for the initial row), ``count``
        (n_events + 1, n_states) int64, ``exposure`` (n_events + 1,) int8, ``status`` and
        ``stop_time``; ``switch_time`` (float64) and ``switch_exposure`` (int8): every change
        of the exposure in force (fixed and adaptive schedules; empty for pk), at an event or
        between events (a breakpoint, timer or biomarker crossing); plus ``channel_names`` (list
        of str) and ``seed`` (the recorded seed).
    """
    rep = check_count(replicate, "replicate", 0)
    prep = prepare(
        model,
        schedule,
        initial=initial,
        t_end=t_end,
        seed=seed,
        replicate_offset=rep,
        max_events=max_events,
        max_population=max_population,
    )
    # The trace grows with every event: cap it where it would outgrow the memory limit.
    core_run = {
        **prep.core_run,
        "max_events": trace_event_cap(len(prep.model.states), prep.core_run["max_events"]),
    }
    out = dict(_core.trace(prep.core_model, prep.core_schedule, core_run, rep))
    out["channel_names"] = prep.model.channel_names()
    out["seed"] = prep.seed_attrs["seed"]
    return out


def simulate(
    model: Model | Mapping[str, Any],
    schedule: Schedule | Mapping[str, Any] | str,
    *,
    initial: Mapping[str, int],
    t_end: float,
    record_every: float | None = None,
    times: npt.ArrayLike | None = None,
    n_replicates: int = 1,
    seed: SeedLike = None,
    n_threads: int | None = None,
    replicate_offset: int = 0,
    max_events: int | None = None,
    max_population: int | None = None,
    progression: Mapping[str, Any] | None = None,
    progress: bool | str = False,
    # Large ensembles (dtp_gillespie.stream): stream to zarr, resume, Dask.
    store: str | os.PathLike[str] | None = None,
    resume: bool = False,
    client: Any = None,
    group: str | None = None,
    overwrite: bool = False,
    block_size: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    summary_only: bool = False,
) -> xr.Dataset:
    """Simulate an ensemble of exact stochastic trajectories.

    Parameters
    ----------
    model : Model or dict
        The model, or its declarative spec.
    schedule : Schedule, dict or str
        The drug schedule, its spec, or an exposure name (continuous exposure).
    initial : dict
        Cells per state at t = 0 (``{"S": 10_000}``); missing states start at 0.
    t_end : float
        End of the simulation (days, > 0).
    record_every : float, optional
        Step of the record grid ``0, dt, 2dt, ...``, ``t_end`` always included (see
        :func:`record_grid`). Default: ``t_end`` (records 0 and ``t_end``).
    times : array_like, optional
        Explicit record times (strictly increasing, within ``[0, t_end]``); excludes
        ``record_every``.
    n_replicates : int, default 1
        Number of independent replicates.
    seed : int, SeedSequence, Generator or None
        SPEC 7 seed; None draws fresh entropy. The entropy used is recorded in ``attrs["seed"]``.
    n_threads : int, optional
        Worker threads; None uses all cores. Does not change the result.
    replicate_offset : int, default 0
        Global index of the first replicate: replicate ``r`` uses RNG stream ``r``, so a run split
        into blocks with offsets reproduces the single run.
    max_events, max_population : int, optional
        Per-replicate caps. A capped replicate stops; its counts after ``stop_time`` are -1 and a
        ``UserWarning`` is emitted.
    progression : dict, optional
        Track progression: ``{"factor": f, "min_size": m}`` (the burden reaches ``f`` × its nadir
        so far, f > 1, and at least ``m``; ``min_size`` is required with ``factor``, since without
        it a tumour shrunk to 1 cell progresses when it divides), ``{"size": n}`` (the burden
        reaches ``n`` cells) or both (whichever comes first, never below ``min_size``), with an
        optional ``"monitor"`` (states or ``{state: weight}``; default the adaptive schedule's
        monitor, else every state with weight 1, also when the schedule monitors the
        biomarker), or ``"monitor": "biomarker"`` for the model's biomarker (``size`` in its units;
        the exact crossing time between events). Gives ``progression_time``.
    progress : bool or str, default False
        Show a tqdm progress bar (a str is used as its description).
    store : str or path-like, optional
        Stream into this zarr store (a path or an fsspec URL) block by block in bounded memory and
        return the lazily opened Dataset (see :mod:`dtp_gillespie.stream`).
    resume : bool, default False
        Finish an interrupted ``store`` (or start it if absent); a store of another run is
        refused. Without ``seed`` the stored seed is used.
    client : distributed.Client, optional
        Run the replicate blocks as Dask tasks (each writes its own region of ``store``; without
        ``store`` the blocks are gathered in memory). Bit-identical to a local run.
    group, overwrite, block_size, storage_options
        Streaming only: zarr group, replace an existing store, replicates per block (= chunk;
        default about 64 MiB of counts), fsspec options.
    summary_only : bool, default False
        Keep no trajectories: per-replicate summaries (``final_count``, ``final_biomarker`` for
        a model with a biomarker, and every per-replicate variable) and ensemble statistics of
        the counts over time (``count_mean``, ``count_var``,
        ``count_min``, ``count_max``, ``count_quantile``, ``n_known``, ``extinct_fraction``,
        ``progressed_fraction``, ...), computed block by block and merged exactly
        (:mod:`dtp_gillespie.summary`). Works in memory, with ``store`` and with ``client``;
        the result does not depend on ``block_size``, threads or resuming.

    Returns
    -------
    xarray.Dataset
        Dims ``(replicate, time, cell_state)``; variables ``count``, ``exposure``,
        ``extinction_time``, ``first_mutant_time``, ``stop_time``, ``n_events``, ``status``,
        ``treatment_start_time``, ``time_on_drug``, ``n_switches``, ``progression_time`` and,
        for pk schedules, ``concentration`` (replicate, time), ``auc_concentration`` and
        ``auc_response`` (replicate), and for models with a biomarker, ``biomarker``
        (replicate, time); the specs and provenance in the attrs
        (README, "Output"). With ``summary_only``, no ``count``, ``exposure``, ``concentration`` or
        ``biomarker``, but ``final_count`` (replicate, cell_state), ``final_biomarker`` for a
        model with a biomarker, and the statistics of :mod:`dtp_gillespie.summary` (with a
        ``quantile`` dimension for ``count_quantile``).

    Raises
    ------
    InvalidModelError, InvalidScheduleError, InvalidRunError
        For invalid input; ``InvalidRunError`` also when the result would not fit in memory
        (:mod:`dtp_gillespie._memory`: use ``store=`` or ``summary_only=True``).
    KeyboardInterrupt
        On Ctrl-C (the engine stops within a second).
    """
    # --- large ensembles: routed to dtp_gillespie.stream ---
    if store is not None or client is not None or check_flag(summary_only, "summary_only"):
        from .stream import simulate_to_store

        return simulate_to_store(
            model,
            schedule,
            store=store,
            group=group,
            resume=resume,
            overwrite=overwrite,
            block_size=block_size,
            progress=progress,
            client=client,
            storage_options=storage_options,
            summary_only=summary_only,
            initial=initial,
            t_end=t_end,
            record_every=record_every,
            times=times,
            n_replicates=n_replicates,
            seed=seed,
            n_threads=n_threads,
            replicate_offset=replicate_offset,
            max_events=max_events,
            max_population=max_population,
            progression=progression,
        )
    # --- end large ensembles ---
    prep = prepare(
        model,
        schedule,
        initial=initial,
        t_end=t_end,
        record_every=record_every,
        times=times,
        n_replicates=n_replicates,
        seed=seed,
        n_threads=n_threads,
        replicate_offset=replicate_offset,
        max_events=max_events,
        max_population=max_population,
        progression=progression,
    )
    check_run_fits(
        prep, block_size=prep.core_run["n_replicates"], in_memory=True, summary_only=False
    )
    out = _run_engine(prep.core_model, prep.core_schedule, prep.core_run, progress)
    ds = build_dataset(
        states=prep.model.states,
        exposures=prep.model.exposures,
        times=prep.times,
        replicate_offset=prep.core_run["replicate_offset"],
        arrays=out,
        model_spec=prep.model.to_dict(),
        schedule_spec=prep.schedule.to_dict(),
        run_spec=prep.run_spec,
        seed_attrs=prep.seed_attrs,
        rng=_core.RNG_NAME,
        version=_core.__version__,
        concentration=prep.schedule.kind == "pk",
        biomarker=prep.model.biomarker,
    )
    status = ds[cv.STATUS].values
    warn_capped(capped_counts(status), status.size, prep)
    return ds


@dataclass(frozen=True)
class Capped:
    """How many replicates stopped early, by reason (the codes of ``cv.STATUS_CAPPED``); adds up
    over blocks."""

    max_events: int = 0
    max_population: int = 0
    rate_overflow: int = 0

    def __add__(self, other: "Capped") -> "Capped":
        return Capped(
            self.max_events + other.max_events,
            self.max_population + other.max_population,
            self.rate_overflow + other.rate_overflow,
        )


def capped_counts(status: npt.NDArray[Any]) -> Capped:
    """Replicates stopped at max_events, at max_population and by a rate overflow."""
    return Capped(
        int(np.count_nonzero(status == cv.STATUS_MAX_EVENTS)),
        int(np.count_nonzero(status == cv.STATUS_MAX_POPULATION)),
        int(np.count_nonzero(status == cv.STATUS_RATE_OVERFLOW)),
    )


def warn_capped(capped: Capped, total: int, prep: Prepared, stacklevel: int = 3) -> None:
    """The warning :func:`simulate` emits when replicates stopped early."""
    parts = []
    if capped.max_events:
        parts.append(f"{capped.max_events} at max_events={prep.core_run['max_events']}")
    if capped.max_population:
        parts.append(f"{capped.max_population} at max_population={prep.core_run['max_population']}")
    if capped.rate_overflow:
        parts.append(
            f"{capped.rate_overflow} at rate_overflow: their total event rate overflowed the "
            "largest float (lower the rates, or max_population)"
        )
    if not parts:
        return
    n = capped.max_events + capped.max_population + capped.rate_overflow
    warnings.warn(
        f"{n} of {total} replicates stopped early ({', '.join(parts)}); "
        f"their counts after stop_time are {cv.COUNT_UNKNOWN}",
        UserWarning,
        stacklevel=stacklevel,
    )


_REPRODUCE_RUN_KEYS = (
    "initial",
    "t_end",
    "n_replicates",
    "replicate_offset",
    "max_events",
    "max_population",
    "seed",
)
"""Keys of the ``run`` attribute that :func:`reproduce` needs (``progression`` and
``summary_only`` default to off)."""


def _short(value: object, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _json_attr(ds: xr.Dataset, name: str) -> Any:
    """A JSON-valued provenance attribute of an output Dataset, decoded."""
    if name not in ds.attrs:
        raise InvalidRunError(
            f"the Dataset has no {name!r} attribute; it was not made by simulate()"
        )
    text = ds.attrs[name]
    if not isinstance(text, str | bytes):
        raise InvalidRunError(
            f"the Dataset's {name!r} attribute is {_short(text)}; expected a JSON string"
        )
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise InvalidRunError(
            f"the Dataset's {name!r} attribute is not valid JSON: {exc}"
        ) from None


def _spec_from_attr(ds: xr.Dataset, name: str, build: Any) -> Any:
    """The model or schedule recorded in attribute ``name``; a malformed one raises the spec's
    own typed error, naming the attribute."""
    spec = _json_attr(ds, name)
    if not isinstance(spec, Mapping):
        raise InvalidRunError(
            f"the Dataset's {name!r} attribute is {_short(spec)}; expected a table"
        )
    try:
        return build(spec)
    except DtpGillespieError as exc:
        raise type(exc)(f"the Dataset's {name!r} attribute: {exc}") from None


def reproduce(
    ds: xr.Dataset, *, n_threads: int | None = None, progress: bool = False
) -> xr.Dataset:
    """Re-run a simulation from the provenance attrs of its output.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`simulate` (or a Dataset opened from zarr).
    n_threads : int, optional
        Worker threads (does not change the result).
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    xarray.Dataset
        Identical to ``ds`` except ``attrs["created_at"]`` (and ``dtp_gillespie_version`` /
        ``rng`` if run with another version).

    Raises
    ------
    InvalidModelError, InvalidScheduleError, InvalidRunError
        If an attribute is missing or malformed (the message names it), or if the run would
        not fit in memory.
    """
    if "sweep" in ds.attrs:
        raise InvalidRunError(
            "the Dataset is a parameter sweep (it has a 'sweep' attribute); re-run it with "
            "dtp_gillespie.sweep and the grid and seed recorded in its attributes"
        )
    model = _spec_from_attr(ds, cv.ATTR_MODEL, Model.from_dict)
    schedule = _spec_from_attr(ds, cv.ATTR_SCHEDULE, Schedule.from_dict)
    run = _json_attr(ds, cv.ATTR_RUN)
    if not isinstance(run, Mapping):
        raise InvalidRunError(f"the Dataset's 'run' attribute is {_short(run)}; expected a table")
    for key in _REPRODUCE_RUN_KEYS:
        if key not in run:
            raise InvalidRunError(f"the Dataset's 'run' attribute has no {key!r}")
    if ("times" in run) == ("record_every" in run):
        raise InvalidRunError(
            "the Dataset's 'run' attribute needs exactly one of 'times' and 'record_every'"
        )
    grid: dict[str, Any] = (
        {"times": run["times"]} if "times" in run else {"record_every": run["record_every"]}
    )
    progression = run.get("progression")
    if isinstance(progression, Mapping) and "min_size" not in progression:
        # Written before min_size existed: the criterion had no floor.
        progression = {**progression, "min_size": 0.0}
    try:
        seed = seed_from_attrs(run["seed"], run.get("seed_spawn_key"))
        return simulate(
            model,
            schedule,
            initial=run["initial"],
            t_end=run["t_end"],
            n_replicates=run["n_replicates"],
            seed=seed,
            n_threads=n_threads,
            replicate_offset=run["replicate_offset"],
            max_events=run["max_events"],
            max_population=run["max_population"],
            progression=progression,
            progress=progress,
            summary_only=run.get("summary_only", False),
            **grid,
        )
    except InvalidRunError as exc:
        raise InvalidRunError(f"the Dataset's 'run' attribute: {exc}") from None
