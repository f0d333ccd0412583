"""The run front ends: :func:`simulate`, :func:`trace` and :func:`reproduce`.

Each validates its run options once (:class:`~dtp_gillespie._options.RunOptions`), makes a plan
(:mod:`dtp_gillespie._plan`) and hands it to the one run loop (:mod:`dtp_gillespie._execute`)
with the sink and executor its arguments ask for (:mod:`dtp_gillespie._run`).
"""

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy.typing as npt
import xarray as xr

from . import _core
from . import conventions as cv
from ._checks import check_count, check_flag
from ._memory import trace_event_cap
from ._options import Prepared, prepare, record_grid, summary_prepared
from ._plan import make_plan
from ._run import run_plan
from ._seeding import SeedLike, seed_from_attrs
from ._store_status import seed_for_resume
from .barcodes import Barcodes
from .errors import DtpGillespieError, InvalidRunError
from .model import Model
from .schedule import Schedule
from .store_safety import check_store_path

__all__ = ["Prepared", "prepare", "record_grid", "reproduce", "simulate", "trace"]


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
    core_run = prep.core_run.copy()
    core_run["max_events"] = trace_event_cap(len(prep.model.states), prep.core_run["max_events"])
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
    barcodes: Barcodes | str | int | None = None,
    barcode_times: npt.ArrayLike | None = None,
    clones: bool = False,
    method: str = "ssa",
    jump_step: float | None = None,
    jump_tolerance: float | None = None,
    jump_threshold: float | None = None,
    jump_density_quantum: float | None = None,
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
    barcodes : "founders", int or Barcodes, optional
        Track barcoded lineages (docs/lineages.md): ``"founders"``
        (``dg.Barcodes.founders()``: one barcode per initial cell) or a number
        ``B >= 1`` (``dg.Barcodes.library(B)``: each initial cell draws one of
        ``B`` barcodes uniformly). Adds the long table of lineage sizes (dim
        ``lineage_row``) at the ``barcode_times``. The totals are bit-identical with and
        without tracking.
    barcode_times : array_like, optional
        When to record the lineage table (non-decreasing, within ``[0, t_end]``); default the
        record times. Needs ``barcodes`` or ``clones``.
    clones : bool, default False
        Found a clone at every mutation event and add the clone table (dim ``clone_row``) and
        ``clones_born``, ``clones_alive``, ``first_surviving_resistant_time``; without
        ``barcodes``, every cell carries barcode 0.
    method : {"ssa", "jump", "auto"}, default "ssa"
        ``"ssa"``: exact stochastic simulation, event by event. ``"jump"``: population jumps
        over a step grid (fixed, adaptive and pk schedules). For linear models (no capacity or
        competition) they are exact: counts at record times exact in law, mutation and
        extinction times exact, a cap time inside a jumped step resolved to the step
        (docs/jumps.md). Adds the attrs ``algorithm``, ``jump_step``, ``jump_tolerance`` and
        ``jump_threshold``. **With a capacity or competition they are an approximation**,
        labelled ``algorithm = "jump+density(midpoint)"``: each step freezes the rates at the
        step's mean-field midpoint (bias measured in docs/jumps.md); adds ``density_quantum``,
        ``max_rate_change_per_step`` and ``density_rate_error``. ``"auto"``: whichever of the
        two *exact* methods is expected to be cheaper, never an approximation: SSA for
        whatever the jumps cannot run exactly (density dependence, a biomarker, continuous
        monitoring, missed doses, ``progression``, ``max_events``, barcodes or clones) and
        for pk schedules (exact under jumps, but their cost is not estimated), else the cheaper
        by the expected cost per replicate along the mean path. The choice is deterministic and
        the result is bit for bit that of the chosen method with the same options; the ``run``
        attribute records ``"auto"``, and the attrs ``algorithm`` (the method that ran),
        ``auto`` (why, in words), ``auto_expected_events``, ``auto_ssa_seconds``,
        ``auto_jump_seconds`` and, for jumps, the ``jump_*`` options and ``auto_pools`` (per
        state, the steps it is expected to spend jumped and event by event; the engine decides
        per pool and step by ``jump_threshold``). A sweep records the choice per grid point
        (``auto_points``; ``algorithm`` is ``"mixed"`` when they differ).
    jump_step : float, optional
        ``method="jump"`` or ``"auto"``: the longest step (days, > 0; default 0.5).
        Breakpoints and record times are always on the grid.
    jump_tolerance : float, optional
        ``method="jump"`` or ``"auto"``: the tail mass of each offspring table per ancestor and
        step, in (0, 1e-6] (default 1e-20); a draw that falls in a tail raises rather than
        approximates.
    jump_threshold : float, optional
        ``method="jump"`` or ``"auto"``: pools expecting fewer events than this in a step are
        simulated event by event (default 1000; 0 jumps every pool, ``inf`` none).
    jump_density_quantum : float, optional
        ``method="jump"`` on a model with a capacity or competition: each step's crowding
        (``N/K``) is rounded to a multiple of this, in (0, 0.1] (default 1e-4), to share the
        step's tables; the rate error it causes is the attr ``density_rate_error``.
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
        default about 64 MiB of counts), fsspec options. ``resume``, ``group``, ``overwrite``
        and ``storage_options`` without ``store`` are refused, not ignored, and so is
        ``block_size`` in a run that is not cut into blocks (no ``store``, ``client`` or
        ``summary_only``).
    summary_only : bool, default False
        Keep no trajectories: per-replicate summaries (``final_count``, ``final_biomarker`` for
        a model with a biomarker, and every per-replicate variable) and ensemble statistics of
        the counts over time (``count_mean``, ``count_var``,
        ``count_min``, ``count_max``, ``count_quantile``, ``n_known``, ``extinct_fraction``,
        ``progressed_fraction``, ...), computed block by block and merged exactly
        (:mod:`dtp_gillespie.summary`). Works in memory, with ``store`` and with ``client``;
        the result does not depend on ``block_size``, threads or resuming. Refused for runs
        that track lineages (it has no place for their tables).

    Returns
    -------
    xarray.Dataset
        Dims ``(replicate, time, cell_state)``; variables ``count``, ``exposure``,
        ``extinction_time``, ``first_mutant_time``, ``stop_time``, ``n_events``, ``status``,
        ``treatment_start_time``, ``time_on_drug``, ``n_switches``, ``progression_time`` and,
        for pk schedules, ``concentration`` (replicate, time), ``auc_concentration`` and
        ``auc_response`` (replicate), and for models with a biomarker, ``biomarker``
        (replicate, time); the specs and provenance in the attrs
        (docs/output.md). With ``summary_only``, no ``count``, ``exposure``, ``concentration`` or
        ``biomarker``, but ``final_count`` (replicate, cell_state), ``final_biomarker`` for a
        model with a biomarker, and the statistics of :mod:`dtp_gillespie.summary` (with a
        ``quantile`` dimension for ``count_quantile``). With ``barcodes`` or ``clones``, the
        lineage and clone tables of docs/lineages.md.

    Raises
    ------
    InvalidModelError, InvalidScheduleError, InvalidRunError
        For invalid input; ``InvalidRunError`` also when the result would not fit in memory
        (:mod:`dtp_gillespie._memory`: use ``store=`` or ``summary_only=True``).
    KeyboardInterrupt
        On Ctrl-C (the engine stops within a second).
    """
    summary_only = check_flag(summary_only, "summary_only")
    # Streamed, summary and Dask runs are cut into blocks; a plain run is one engine call.
    blocked = store is not None or client is not None or summary_only
    if block_size is not None and not blocked:
        raise InvalidRunError(
            f"block_size={block_size!r} without store=, client= or summary_only=True: a plain run "
            "is one engine call, in blocks only when streamed, distributed or summarised"
        )
    if store is not None:
        store = check_store_path(store)
    seed, seed_drawn = seed_for_resume(
        seed, store, group=group, storage_options=storage_options, resume=resume
    )
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
        barcodes=barcodes,
        barcode_times=barcode_times,
        clones=clones,
        method=method,
        jump_step=jump_step,
        jump_tolerance=jump_tolerance,
        jump_threshold=jump_threshold,
        jump_density_quantum=jump_density_quantum,
    )
    if summary_only:
        prep = summary_prepared(prep)
    plan = make_plan(prep, block_size=block_size if blocked else None, summary_only=summary_only)
    return run_plan(
        plan,
        store=store,
        group=group,
        resume=resume,
        overwrite=overwrite,
        storage_options=storage_options,
        client=client,
        progress=progress,
        seed_drawn=seed_drawn,
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
"""Keys of the ``run`` attribute that :func:`reproduce` needs (``progression``,
``summary_only``, ``barcodes``, ``barcode_times`` and ``clones`` default to off)."""


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
            barcodes=run.get("barcodes"),
            barcode_times=run.get("barcode_times"),
            clones=run.get("clones", False),
            progress=progress,
            summary_only=run.get("summary_only", False),
            method=run.get("method", "ssa"),
            jump_step=run.get("jump_step"),
            jump_tolerance=run.get("jump_tolerance"),
            jump_threshold=run.get("jump_threshold"),
            jump_density_quantum=run.get("jump_density_quantum"),
            **grid,
        )
    except InvalidRunError as exc:
        raise InvalidRunError(f"the Dataset's 'run' attribute: {exc}") from None
