"""Run options: validated once into a :class:`RunOptions`, then bound to a model and schedule.

Every run (``simulate``, ``sweep``, ``trace``, ``reproduce``, the CLI) states its options the same
way: ``initial``, ``t_end``, ``record_every`` or ``times``, ``n_replicates``, ``seed``,
``n_threads``, ``replicate_offset``, ``max_events``, ``max_population``, ``progression``,
``barcodes``, ``barcode_times``, ``clones``. This module is their one owner:
:meth:`RunOptions.build` checks what needs no model (numbers, counts, the record grid, the seed,
the lineage options) and :func:`bind` what does (the initial counts of the model's states, the
progression criterion), giving the :class:`Prepared` run the engine takes. The primitive
checks come from :mod:`dtp_gillespie._checks`.
"""

import dataclasses
import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from ._auto import choose_method
from ._checks import INT64_MAX, check_count, check_flag, is_real, to_float
from ._memory import check_replicate_fits
from ._method import SSA, Method, check_method
from ._seeding import SeedInfo, SeedLike, normalise_seed
from .barcodes import Barcodes, Lineages, check_barcodes
from .errors import DtpGillespieError, InvalidRunError
from .model import Model
from .schedule import Schedule
from .schedule._common import is_list, monitor_weights

if TYPE_CHECKING:
    from ._core import ModelSpec, RunSpec, _ScheduleSpec

__all__ = [
    "RUN_OPTIONS",
    "Prepared",
    "RunOptions",
    "bind",
    "coerce_model",
    "prepare",
    "record_grid",
    "summary_prepared",
]

_GRID_TOL = 1e-9


def _check_cap(value: object, name: str) -> int | None:
    """``max_events``, ``max_population``: None (no cap) or a count >= 1."""
    if value is None:
        return None
    return check_count(value, name, 1)


def _check_positive(value: object, name: str) -> float:
    """A finite number > 0 (``t_end``, ``record_every``: days)."""
    x = to_float(value) if is_real(value) else math.nan
    if not (math.isfinite(x) and x > 0):
        raise InvalidRunError(f"{name} is {value!r}; it must be a finite number > 0 (days)")
    return x


def _check_real_times(
    times: npt.ArrayLike, name: str = "times", what: str = "record times"
) -> None:
    """Times are real numbers: no strings or bools, which numpy would convert silently."""
    if isinstance(times, list | tuple):
        items: Sequence[object] = times
    else:
        arr = np.asarray(times)
        if arr.dtype.kind in "iuf":
            return
        if arr.dtype.kind != "O":
            raise InvalidRunError(
                f"{name} has dtype {arr.dtype}; {what} must be real numbers (days)"
            )
        items = arr.ravel().tolist()
    for i, x in enumerate(items):
        if not is_real(x):
            raise InvalidRunError(
                f"{name}[{i}] is {x!r} ({type(x).__name__}); {what} must be real numbers (days)"
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


def _check_barcode_times(
    times: npt.ArrayLike, t_end: float, clones: bool
) -> npt.NDArray[np.float64]:
    """Explicit ``barcode_times``: finite, non-decreasing, within [0, t_end]; empty only when
    clones are tracked (the clone table is then the whole output)."""
    name = "barcode_times"
    if isinstance(times, str | bytes):
        raise InvalidRunError(f"{name} is {times!r}; expected a list of numbers (days)")
    _check_real_times(times, name, "barcode times")
    try:
        t = np.array(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidRunError(f"{name} is {times!r}; expected a list of numbers") from None
    if t.ndim != 1:
        raise InvalidRunError(f"{name} must be a 1-D list of numbers, got {times!r}")
    if t.size == 0 and not clones:
        raise InvalidRunError(
            f"{name} is empty; barcodes need at least one barcode time (or pass clones=True "
            "for the clone table alone)"
        )
    bad = ~np.isfinite(t) | (t < 0) | (t > t_end)
    if bad.any():
        k = int(np.argmax(bad))
        raise InvalidRunError(
            f"{name}[{k}] is {float(t[k])!r}; barcode times must lie within [0, t_end] = "
            f"[0, {t_end!r}]"
        )
    if np.any(np.diff(t) < 0):
        k = int(np.argmax(np.diff(t) < 0))
        raise InvalidRunError(
            f"{name} must be non-decreasing; {name}[{k + 1}] = {float(t[k + 1])!r} follows "
            f"{float(t[k])!r}"
        )
    return t


def _check_lineages(
    barcodes: object,
    barcode_times: npt.ArrayLike | None,
    clones: object,
    record_times: npt.NDArray[np.float64],
    t_end: float,
) -> Lineages | None:
    """The lineage options (None: no lineage tracking; nothing of the run changes)."""
    chosen = check_barcodes(barcodes)
    track_clones = check_flag(clones, "clones")
    if chosen is None and not track_clones:
        if barcode_times is not None:
            raise InvalidRunError(
                f"barcode_times is {barcode_times!r}, but the run tracks no lineages; pass "
                "barcodes= (e.g. 'founders' or a number of barcodes) or clones=True"
            )
        return None
    if barcode_times is None:
        return Lineages(chosen, record_times, False, track_clones)
    return Lineages(
        chosen, _check_barcode_times(barcode_times, t_end, track_clones), True, track_clones
    )


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
        if not (is_list(monitor) or isinstance(monitor, Mapping)):
            raise InvalidRunError(
                f"progression monitor is {monitor!r}; expected 'biomarker', a list of states or "
                "a table {state: weight}"
            )
        try:
            norm = Schedule._normalise_monitor(monitor, "progression monitor")
        except DtpGillespieError as exc:
            raise InvalidRunError(str(exc)) from None
        assert not isinstance(norm, str)
        weights = monitor_weights(norm, model, "progression monitor", InvalidRunError)
    out["monitor"] = dict(zip(model.states, weights, strict=True))
    return out


def _progression_weights(prog: Mapping[str, Any], model: Model) -> list[float]:
    """The engine's burden weights of a normalised progression (unused for the biomarker)."""
    if prog["monitor"] == "biomarker":
        return [0.0] * len(model.states)
    return list(prog["monitor"].values())


def _finite(value: object, name: str) -> float:
    x = to_float(value) if is_real(value) else math.nan
    if not math.isfinite(x):
        raise InvalidRunError(f"{name} is {value!r}; it must be a finite number")
    return x


def _check_initial(initial: Mapping[str, Any], model: Model) -> list[int]:
    """The initial count of every state of the model (model order; missing states start at 0)."""
    for key in initial:
        if key not in model.states:
            raise InvalidRunError(
                f"initial names unknown state {key!r}; the model's states are {list(model.states)}"
            )
    out = []
    for s in model.states:
        out.append(check_count(initial.get(s, 0), f"initial count of state {s!r}", 0))
    return out


def coerce_model(model: object) -> Model:
    """A Model, or the Model of a spec dict."""
    if isinstance(model, Model):
        return model
    if isinstance(model, Mapping):
        return Model.from_dict(model)
    raise InvalidRunError(f"model must be a Model or a spec dict, got {type(model).__name__}")


@dataclass(frozen=True, eq=False)
class RunOptions:
    """The run options, validated (everything that needs no model; see :func:`bind`).

    Attributes
    ----------
    initial : mapping
        ``{state: count}`` as given (its states and counts are checked against the model).
    t_end : float
    times : numpy.ndarray
        The record grid (:func:`record_grid`).
    record : dict
        How the grid was asked for, as recorded in the ``run`` attribute: ``{"times": [...]}``
        or ``{"record_every": dt}``.
    n_replicates, replicate_offset : int
    max_events, max_population : int or None
    n_threads : int or None
        An upper bound: the engine runs a call on at most one thread per replicate and four
        per core (None: one per core); results do not depend on it.
    progression : mapping or None
        As given (normalised against the model and schedule by :func:`bind`).
    seed : SeedInfo
    lineages : Lineages or None
        Barcodes, barcode times and clones (None: no lineage tracking).
    method : Method
        The simulation method and its options (:mod:`dtp_gillespie._method`).
    """

    initial: Mapping[str, Any]
    t_end: float
    times: npt.NDArray[np.float64]
    record: dict[str, Any]
    n_replicates: int
    replicate_offset: int
    max_events: int | None
    max_population: int | None
    n_threads: int | None
    progression: Mapping[str, Any] | None
    seed: SeedInfo
    lineages: Lineages | None = None
    method: Method = SSA

    @classmethod
    def build(
        cls,
        *,
        initial: Mapping[str, int],
        t_end: float,
        record_every: float | None = None,
        times: npt.ArrayLike | None = None,
        n_replicates: int = 1,
        seed: SeedLike = None,
        max_events: int | None = None,
        max_population: int | None = None,
        replicate_offset: int = 0,
        progression: Mapping[str, Any] | None = None,
        n_threads: int | None = None,
        barcodes: "Barcodes | str | int | None" = None,
        barcode_times: npt.ArrayLike | None = None,
        clones: bool = False,
        method: str = "ssa",
        jump_step: float | None = None,
        jump_tolerance: float | None = None,
        jump_threshold: float | None = None,
        jump_density_quantum: float | None = None,
    ) -> "RunOptions":
        """Check the run options of :func:`~dtp_gillespie.simulate` (same keywords)."""
        t_end_f = _check_positive(t_end, "t_end")
        grid = record_grid(t_end_f, record_every, times)
        if not isinstance(initial, Mapping):
            raise InvalidRunError(
                f"initial is {initial!r}; expected a table {{state: count}}, e.g. {{'S': 10000}}"
            )
        n_rep = check_count(n_replicates, "n_replicates", 1)
        offset = check_count(replicate_offset, "replicate_offset", 0)
        if offset + n_rep - 1 > INT64_MAX:
            raise InvalidRunError("replicate_offset + n_replicates exceeds the int64 range")
        record: dict[str, Any] = (
            {"times": [float(x) for x in grid]}
            if times is not None
            else {"record_every": t_end_f if record_every is None else float(record_every)}
        )
        return cls(
            initial=initial,
            t_end=t_end_f,
            times=grid,
            record=record,
            n_replicates=n_rep,
            replicate_offset=offset,
            max_events=_check_cap(max_events, "max_events"),
            max_population=_check_cap(max_population, "max_population"),
            n_threads=None if n_threads is None else check_count(n_threads, "n_threads", 1),
            progression=progression,
            seed=normalise_seed(seed),
            lineages=_check_lineages(barcodes, barcode_times, clones, grid, t_end_f),
            method=check_method(
                method, jump_step, jump_tolerance, jump_threshold, jump_density_quantum
            ),
        )


RUN_OPTIONS: tuple[str, ...] = tuple(inspect.signature(RunOptions.build).parameters)
"""The names of the run options, in the order of :meth:`RunOptions.build`."""


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
    lineages : Lineages or None
        The lineage options (``core_run["lineages"]`` is their engine spec).
    auto_attrs : dict
        With ``method="auto"``: which method runs and why (output attributes; the run spec
        records the request, the engine's run dict the chosen method). Empty otherwise.
    """

    model: Model
    schedule: Schedule
    times: npt.NDArray[np.float64]
    run_spec: dict[str, Any]
    seed_attrs: dict[str, Any]
    core_model: "ModelSpec"
    core_schedule: "_ScheduleSpec"
    core_run: "RunSpec"
    lineages: Lineages | None = None
    auto_attrs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def bind(
    model: Model, schedule: Schedule, options: RunOptions, seed: SeedInfo | None = None
) -> Prepared:
    """The run of ``options`` on this model and schedule (``seed`` replaces the options' seed:
    a sweep's grid points each draw their own)."""
    # Schedule.compile gives the dict of its kind (``_ScheduleSpec`` in ``_core.pyi``).
    core_schedule = cast("_ScheduleSpec", schedule.compile(model, t_end=options.t_end))
    prog = _check_progression(options.progression, model, schedule)
    check_replicate_fits(
        options.times.size,
        len(model.states),
        concentration=schedule.kind == "pk",
        biomarker=model.biomarker is not None,
    )
    init = _check_initial(options.initial, model)
    core_model = model.compile()
    # The method that runs: the one asked for, checked to fit, or the choice of "auto".
    choice = choose_method(
        options.method,
        model,
        schedule,
        core_model,
        core_schedule,
        initial=init,
        times=options.times,
        t_end=options.t_end,
        n_replicates=options.n_replicates,
        max_events=options.max_events,
        max_population=options.max_population,
        progression=prog,
        tracks_lineages=options.lineages is not None,
    )
    # A jump run on a density-dependent model gets its density quantum (labelled approximate).
    method = choice.method.for_model(model)
    # The run attribute records what was asked for: "auto" chooses again when reproduced.
    recorded = options.method if options.method.name == "auto" else method
    seed_info = options.seed if seed is None else seed
    run_spec: dict[str, Any] = {
        "initial": dict(zip(model.states, init, strict=True)),
        "t_end": options.t_end,
        **options.record,
        "n_replicates": options.n_replicates,
        "replicate_offset": options.replicate_offset,
        "max_events": options.max_events,
        "max_population": options.max_population,
        "progression": prog,
        **seed_info.attrs,
        **recorded.run_spec(),
    }
    if options.lineages is not None:
        # Only runs that track lineages say so: every other run's attribute is unchanged.
        run_spec.update(options.lineages.run_spec())
    core_run: RunSpec = {  # the method's keys are added below
        "initial": init,
        "record_times": [float(x) for x in options.times],
        "t_end": options.t_end,
        "max_events": options.max_events,
        "max_population": options.max_population,
        "seed_key": seed_info.key,
        "replicate_offset": options.replicate_offset,
        "n_replicates": options.n_replicates,
        "n_threads": options.n_threads,
        "progression_weights": None if prog is None else _progression_weights(prog, model),
        "progression_biomarker": prog is not None and prog["monitor"] == "biomarker",
        "progression_factor": None if prog is None else prog["factor"],
        "progression_size": None if prog is None else prog["size"],
        "progression_min_size": None if prog is None else prog["min_size"],
    }
    if options.lineages is not None:
        core_run["lineages"] = options.lineages.engine_spec()
    core_run.update(method.run_spec())  # type: ignore[typeddict-item]
    return Prepared(
        model=model,
        schedule=schedule,
        times=options.times,
        run_spec=run_spec,
        seed_attrs=dict(seed_info.attrs),
        core_model=core_model,
        core_schedule=core_schedule,
        core_run=core_run,
        lineages=options.lineages,
        auto_attrs=choice.attrs,
    )


def prepare(
    model: Model | Mapping[str, Any],
    schedule: Schedule | Mapping[str, Any] | str,
    **options: Any,
) -> Prepared:
    """Validate the arguments of :func:`~dtp_gillespie.simulate` and compile the engine's inputs
    (no run).

    Parameters
    ----------
    model, schedule
        As for :func:`~dtp_gillespie.simulate`.
    **options
        The run options of :func:`~dtp_gillespie.simulate` (``initial``, ``t_end``,
        ``record_every`` or ``times``, ``n_replicates``, ``seed``, ``n_threads``,
        ``replicate_offset``, ``max_events``, ``max_population``, ``progression``,
        ``barcodes``, ``barcode_times``, ``clones``): see :meth:`RunOptions.build`.

    Useful to check a configuration before a long run and to call the engine directly in tests.

    Returns
    -------
    Prepared
    """
    m = coerce_model(model)
    sched = Schedule.coerce(schedule)
    return bind(m, sched, RunOptions.build(**options))


def summary_prepared(prep: Prepared) -> Prepared:
    """The prepared run with ``summary_only`` recorded in its run spec (and the run attribute).

    Summary mode keeps per-replicate summaries and ensemble statistics: it has no place for the
    lineage and clone tables, so a run that tracks lineages is refused rather than silently
    dropping them."""
    if prep.lineages is not None:
        raise InvalidRunError(
            "summary_only=True keeps no lineage or clone tables, but the run asks for "
            f"barcodes={prep.run_spec['barcodes']!r}, clones={prep.run_spec['clones']!r}; run "
            "without summary_only (store='run.zarr' streams the tables to disk in bounded "
            "memory)"
        )
    return dataclasses.replace(prep, run_spec={**prep.run_spec, "summary_only": True})
