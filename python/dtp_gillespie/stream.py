"""Large ensembles: stream replicate blocks into a zarr store, resume after a crash, run on Dask.

A streamed run is cut into *blocks* of ``block_size`` consecutive replicates (the last one may be
shorter); the zarr chunks of every replicate-dimensioned variable are exactly one block, so each
block is one independent region write. The store is written in this order:

1. the **template**: every variable, coordinate and attribute of the final Dataset, with the
   replicate dimension at its full length and the data still unwritten;
2. the **progress marker** ``<group>/_progress/block_done`` (int8, dimensions ``grid_point`` x
   ``block``, one chunk per block, all 0) with the block layout in its attributes; from here on
   the store is resumable; the store's metadata is then consolidated at its root
   (:func:`~dtp_gillespie.io.refresh_metadata`), so that plain ``xr.open_zarr`` and
   ``xr.open_datatree`` read an interrupted store too;
3. for each block, in any order: the region write of its data, *then* ``block_done[block] = 1``;
4. once the run stops (finished, or on an error or Ctrl-C) and its lock is gone: the metadata is
   consolidated again (the ``incomplete`` attribute gone, a summary's statistics flagged done).

A run killed at any point (SIGKILL included) therefore leaves a store in which exactly the blocks
marked done hold their final data; :func:`store_status` reads the marker, and resuming recomputes
the other blocks. Every replicate draws from its own stream (seed, global replicate index), so a
block's data does not depend on when, where or in which order it was computed: the finished store
is bit-identical to an uninterrupted run. A store written with a different model, schedule, run
options, seed or engine version is refused (:class:`~dtp_gillespie.errors.InvalidRunError`).

Sweeps (:mod:`dtp_gillespie.sweep`) use the same machinery with leading sweep dimensions: a block
is then (grid point, replicate block) and ``block_done`` has shape (n_points, n_blocks).
"""

import contextlib
import dataclasses
import itertools
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import _core, summary
from . import conventions as cv
from . import store_safety as safety
from ._dataset import build_dataset
from .errors import InvalidRunError
from .io import refresh_metadata
from .simulate import Capped, Prepared, capped_counts, check_count, check_flag, warn_capped
from .store_safety import open_group

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "INCOMPLETE_ATTR",
    "PROGRESS_DIMS",
    "PROGRESS_GROUP",
    "StoreStatus",
    "default_block_size",
    "store_status",
]

DEFAULT_BLOCK_BYTES = 64 << 20
"""Default block (= chunk) size: about 64 MiB of ``count`` per block."""

PROGRESS_GROUP = "_progress"
"""Child group (of the run's group) holding the ``block_done`` marker."""

PROGRESS_DIMS = ("grid_point", "block")
"""Dimension names of ``_progress/block_done``."""

INCOMPLETE_ATTR = "incomplete"
"""Global attribute of a streamed store whose run is not finished; removed once it is."""

INCOMPLETE_NOTE = (
    "This streamed run is not finished (still being written, or interrupted): replicates whose "
    f"status is {cv.STATUS_NOT_RUN} (not_run) hold no data yet (count -1, times NaN); "
    "dtp_gillespie.store_status says which blocks are done, and the same call with resume=True "
    "finishes the run"
)


_IDENTITY_ATTRS = (
    cv.ATTR_MODEL,
    cv.ATTR_SCHEDULE,
    cv.ATTR_RUN,
    cv.ATTR_SEED,
    cv.ATTR_SEED_SPAWN_KEY,
    cv.ATTR_RNG,
    cv.ATTR_VERSION,
    cv.ATTR_SCHEMA_VERSION,
    "sweep",
)
"""Attributes that must match for a store to be resumed."""


def default_block_size(n_times: int, n_states: int, n_replicates: int) -> int:
    """Replicates per block: about :data:`DEFAULT_BLOCK_BYTES` of int64 counts, at least 1."""
    per_rep = 8 * max(1, n_times) * max(1, n_states)
    return max(1, min(n_replicates, DEFAULT_BLOCK_BYTES // per_rep))


# --------------------------------------------------------------------------------------------
# Plans: what to compute and where it goes.


@dataclass(frozen=True)
class Point:
    """One grid point of a run (a plain run has one, with no sweep dimensions)."""

    index: tuple[int, ...]
    prep: Prepared


@dataclass(frozen=True)
class Plan:
    """A run cut into blocks: the points, the sweep dimensions and the block layout."""

    points: tuple[Point, ...]
    block_size: int
    sweep_dims: tuple[str, ...] = ()
    sweep_coords: Mapping[str, Any] = field(default_factory=dict)
    sweep_attrs: Mapping[str, Any] = field(default_factory=dict)
    """Global attributes replacing the first point's (sweeps: base specs, root seed, grid)."""
    summary_only: bool = False
    """Keep per-replicate summaries and ensemble statistics only (:mod:`dtp_gillespie.summary`)."""

    @property
    def n_replicates(self) -> int:
        return int(self.points[0].prep.core_run["n_replicates"])

    @property
    def n_blocks(self) -> int:
        return -(-self.n_replicates // self.block_size)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(self.sweep_coords[d]) for d in self.sweep_dims)

    def block_range(self, block: int) -> tuple[int, int]:
        """Start and stop (positions along ``replicate``) of a block."""
        start = block * self.block_size
        return start, min(self.n_replicates, start + self.block_size)

    def tasks(self) -> Iterator[tuple[int, int]]:
        """Every (point number, block) pair, point-major."""
        for p in range(len(self.points)):
            for b in range(self.n_blocks):
                yield p, b


def make_plan(
    preps: Sequence[Prepared] | Prepared,
    *,
    block_size: int | None = None,
    sweep_dims: Sequence[str] = (),
    sweep_coords: Mapping[str, Any] | None = None,
    sweep_attrs: Mapping[str, Any] | None = None,
    summary_only: bool = False,
) -> Plan:
    """Cut prepared runs (one, or one per grid point in C order) into blocks."""
    items = [preps] if isinstance(preps, Prepared) else list(preps)
    coords = dict(sweep_coords or {})
    shape = tuple(len(coords[d]) for d in sweep_dims)
    indices = list(itertools.product(*(range(n) for n in shape)))
    if len(indices) != len(items):
        raise InvalidRunError(f"internal error: {len(items)} runs for a grid of shape {shape}")
    first = items[0]
    n_rep = int(first.core_run["n_replicates"])
    for prep in items[1:]:
        if int(prep.core_run["n_replicates"]) != n_rep or not np.array_equal(
            prep.times, first.times
        ):
            raise InvalidRunError(
                "every grid point must have the same n_replicates and record times"
            )
        if tuple(prep.model.states) != tuple(first.model.states):
            raise InvalidRunError("every grid point must have the same cell states")
    if block_size is None:
        bs = default_block_size(first.times.size, len(first.model.states), n_rep)
    else:
        bs = min(check_count(block_size, "block_size", 1), n_rep)
    return Plan(
        points=tuple(Point(idx, p) for idx, p in zip(indices, items, strict=True)),
        block_size=bs,
        sweep_dims=tuple(sweep_dims),
        sweep_coords=coords,
        sweep_attrs=dict(sweep_attrs or {}),
        summary_only=bool(summary_only),
    )


# --------------------------------------------------------------------------------------------
# Running blocks.


def run_block(
    prep: Prepared,
    start: int,
    stop: int,
    progress: Callable[[int], None] | None = None,
    n_threads: int | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Engine arrays of replicates ``start:stop`` (positions within the run) of a prepared run."""
    run = dict(prep.core_run)
    run["replicate_offset"] = int(prep.core_run["replicate_offset"]) + start
    run["n_replicates"] = stop - start
    if n_threads is not None:
        run["n_threads"] = n_threads
    return _core.simulate_ensemble(prep.core_model, prep.core_schedule, run, progress)


def block_dataset(prep: Prepared, arrays: Mapping[str, Any], replicate_offset: int) -> xr.Dataset:
    """The Dataset :func:`~dtp_gillespie.simulate` would build from these engine arrays."""
    return build_dataset(
        states=prep.model.states,
        exposures=prep.model.exposures,
        times=prep.times,
        replicate_offset=replicate_offset,
        arrays=arrays,
        model_spec=prep.model.to_dict(),
        schedule_spec=prep.schedule.to_dict(),
        run_spec=prep.run_spec,
        seed_attrs=prep.seed_attrs,
        rng=_core.RNG_NAME,
        version=_core.__version__,
        # The engine returns ``concentration`` exactly when the schedule has one (pk).
        concentration=cv.CONCENTRATION in arrays,
        biomarker=prep.model.biomarker,
    )


def _expand(plan: Plan, ds: xr.Dataset, point: Point) -> xr.Dataset:
    if not plan.sweep_dims:
        return ds
    coords = {
        d: [plan.sweep_coords[d][i]] for d, i in zip(plan.sweep_dims, point.index, strict=True)
    }
    out = ds.expand_dims(coords)
    for d in plan.sweep_dims:
        out[d].attrs = {"long_name": f"sweep parameter {d}", "units": "1"}
    return out


def _final_attrs(plan: Plan, ds: xr.Dataset) -> dict[str, Any]:
    attrs = dict(ds.attrs)
    if plan.sweep_attrs:
        attrs.pop(cv.ATTR_SEED_SPAWN_KEY, None)
        attrs.update(plan.sweep_attrs)
        # Canonical order: the sweep description after the specs.
    return attrs


# --------------------------------------------------------------------------------------------
# The store.


@dataclass(frozen=True)
class StoreStatus:
    """What a (possibly interrupted) streamed store holds.

    Attributes
    ----------
    initialised : bool
        The template and the progress marker are written (the store is resumable).
    block_size, n_blocks, n_points, n_replicates : int
        Block layout (0 when not initialised).
    done : numpy.ndarray of bool
        ``(n_points, n_blocks)``: which blocks hold their final data.
    statistics_pending : bool
        A summary store whose ensemble statistics are not written yet (they are written once
        every block is done; ``resume=True`` writes them).
    corrupt : tuple of str
        With ``verify=True``: the chunks whose CRC32C checksum does not match their bytes (or
        that cannot be decoded), as ``"<array> chunk <index>"``.
    """

    initialised: bool
    block_size: int
    n_blocks: int
    n_points: int
    n_replicates: int
    done: npt.NDArray[np.bool_]
    statistics_pending: bool = False
    corrupt: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every block is written, for a summary store its statistics too, and no chunk found
        corrupt."""
        return (
            self.initialised
            and bool(self.done.all())
            and not self.statistics_pending
            and not self.corrupt
        )

    @property
    def replicates_done(self) -> int:
        """Replicates (summed over grid points) whose data are final."""
        if not self.initialised:
            return 0
        sizes = np.full(self.n_blocks, self.block_size, dtype=np.int64)
        if self.n_blocks:
            sizes[-1] = self.n_replicates - self.block_size * (self.n_blocks - 1)
        return int((self.done * sizes).sum())

    def __str__(self) -> str:
        if not self.initialised:
            return "not initialised (no complete template): nothing to keep"
        pending = (
            "; ensemble statistics not written yet (resume=True writes them)"
            if self.statistics_pending
            else ""
        )
        corrupt = (
            f"; {len(self.corrupt)} corrupt chunks (checksum mismatch): "
            + ", ".join(self.corrupt[:5])
            + (", ..." if len(self.corrupt) > 5 else "")
            if self.corrupt
            else ""
        )
        return (
            f"{int(self.done.sum())} of {self.done.size} blocks done "
            f"({self.replicates_done} of {self.n_points * self.n_replicates} replicates), "
            f"block size {self.block_size}{pending}{corrupt}"
        )


def _join(group: str | None, name: str) -> str:
    return name if not group else f"{group.rstrip('/')}/{name}"


def store_status(
    store: str | os.PathLike[str],
    *,
    group: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    verify: bool = False,
) -> StoreStatus:
    """Which blocks of a streamed store are complete.

    Parameters
    ----------
    store : str or path-like
        The zarr store (a path or an fsspec URL).
    group : str, optional
        The run's group inside the store.
    storage_options : dict, optional
        fsspec options for a URL.
    verify : bool, default False
        Also read every chunk of the run and check its CRC32C checksum (reads the whole store);
        the bad ones are listed in ``corrupt``.

    Returns
    -------
    StoreStatus
    """
    path = safety.check_store_path(store)
    empty = StoreStatus(False, 0, 0, 0, 0, np.zeros((0, 0), dtype=bool))
    try:
        prog = open_group(path, _join(group, PROGRESS_GROUP), "r", storage_options)
        attrs = dict(prog.attrs)
        if not attrs.get("initialised"):
            return empty
        done = np.asarray(prog["block_done"][...]) != 0
        summary_store = "stats" in prog
    except Exception:
        return empty
    return StoreStatus(
        initialised=True,
        block_size=int(attrs["block_size"]),
        n_blocks=int(attrs["n_blocks"]),
        n_points=int(attrs["n_points"]),
        n_replicates=int(attrs["n_replicates"]),
        done=done.reshape(int(attrs["n_points"]), int(attrs["n_blocks"])),
        statistics_pending=summary_store and not attrs.get("statistics_done", False),
        corrupt=_corrupt_chunks(path, group, storage_options) if verify else (),
    )


def _corrupt_chunks(
    path: str, group: str | None, storage_options: Mapping[str, Any] | None
) -> tuple[str, ...]:
    """Every chunk of the run's arrays (the progress marker included) that fails to decode: its
    checksum does not match, or its bytes are not a valid chunk."""
    import zarr

    bad = []
    root = open_group(path, group, "r", storage_options)
    for name, node in sorted(root.members(max_depth=None), key=lambda m: m[0]):
        if not isinstance(node, zarr.Array) or name.startswith(safety.LOCK_GROUP):
            continue
        for index in itertools.product(*(range(n) for n in node.cdata_shape)):
            try:
                node.blocks[index]
            except Exception:
                bad.append(f"{name} chunk {index}")
    return tuple(bad)


def _identity(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in _IDENTITY_ATTRS}


def _check_identity(stored: Mapping[str, Any], wanted: Mapping[str, Any], where: str) -> None:
    a, b = _identity(stored), _identity(wanted)
    diff = [
        item for k in _IDENTITY_ATTRS for item in _differences(k, _decoded(a[k]), _decoded(b[k]))
    ]
    if diff:
        details = "; ".join(
            f"{name}: stored {_short(x)}, requested {_short(y)}" for name, x, y in diff[:4]
        )
        more = f"; and {len(diff) - 4} more" if len(diff) > 4 else ""
        raise InvalidRunError(
            f"{where} was written by a different run ({details}{more}); "
            "refusing to mix them. Resume with the same model, schedule, run options and seed, "
            "or write to another store"
        )


def _decoded(v: Any) -> Any:
    """An identity attribute as plain data (the specs are stored as JSON text)."""
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return _normal(v)


def _differences(name: str, a: Any, b: Any) -> Iterator[tuple[str, Any, Any]]:
    """Every leaf that differs between two decoded attributes, as (dotted path, stored,
    requested): a missing key reads as null."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            yield from _differences(f"{name}.{k}", a.get(k), b.get(k))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(f"{name}[{i}]", x, y)
    elif _normal(a) != _normal(b):
        yield name, a, b


def _normal(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    return v


def _short(v: Any, n: int = 80) -> str:
    s = json.dumps(_normal(v)) if not isinstance(v, str) else v
    return s if len(s) <= n else s[: n - 3] + "..."


def stored_attrs(
    store: str | os.PathLike[str],
    *,
    group: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Global attributes of the run in a store (None if there is none)."""
    path = safety.check_store_path(store)
    if not safety.exists(path, group, storage_options):
        return None
    try:
        return dict(open_group(path, group, "r", storage_options).attrs)
    except Exception:
        return None


def _write_template(
    plan: Plan, store: str, group: str | None, storage_options: Mapping[str, Any] | None
) -> None:
    """Steps 1 and 2: the full-size template and the progress marker (overwrites the group)."""
    first = plan.points[0]
    probe = run_block(first.prep, 0, 1)
    ds = block_dataset(first.prep, probe, int(first.prep.core_run["replicate_offset"]))
    if plan.summary_only:
        # Statistics of no replicate (NaN, -1, 0) until every block is done.
        empty = summary.empty_stats(first.prep.times.size, len(first.prep.model.states))
        ds = summary.with_statistics(summary.per_replicate(ds), summary.statistics(empty))
    if plan.sweep_dims:
        ds = ds.expand_dims({d: list(plan.sweep_coords[d]) for d in plan.sweep_dims})
        for d in plan.sweep_dims:
            ds[d].attrs = {"long_name": f"sweep parameter {d}", "units": "1"}
    ds.attrs = {**_final_attrs(plan, ds), INCOMPLETE_ATTR: INCOMPLETE_NOTE}
    nd = len(plan.sweep_dims)
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in list(ds.variables.items()):
        if cv.REPLICATE in var.dims:
            chunks = tuple(
                plan.block_size if d == cv.REPLICATE else (1 if i < nd else ds.sizes[d])
                for i, d in enumerate(var.dims)
            )
            encoding[str(name)] = {"chunks": tuple(max(1, c) for c in chunks)}
            if name != cv.REPLICATE:
                # Until its block is written, a replicate reads as "not run" (status -1,
                # counts -1, times NaN), never as data: the probe's values are not kept.
                fill = _unwritten_fill(var.dtype)
                ds[name] = var.copy(data=np.full(var.shape, fill, dtype=var.dtype))
                encoding[str(name)]["fill_value"] = fill
    stat_encoding = {
        name: {"chunks": tuple(1 if i < nd else ds.sizes[d] for i, d in enumerate(ds[name].dims))}
        for name in (summary.STATISTICS if plan.summary_only else ())
    }
    replicate_vars = list(encoding)
    encoding = {**encoding, **stat_encoding}
    for name in ds.variables:
        encoding.setdefault(str(name), {})["compressors"] = safety.checksummed_codecs()
    kwargs = safety.storage_kwargs(storage_options)
    # The caller holds the writer's lock (in the group) and has recognised the group as this
    # run's own: clear it but for the lock, then write the template.
    safety.clear_group(store, group, storage_options, keep_lock=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(
            store,
            group=group,
            mode="a",
            encoding=encoding,
            consolidated=False,
            **kwargs,
        )
    root = open_group(store, group, "r+", storage_options)
    n = plan.n_replicates
    for name in replicate_vars:
        arr = root[name]
        dims = list(arr.metadata.dimension_names or ())
        axis = dims.index(cv.REPLICATE)
        shape = list(arr.shape)
        shape[axis] = n
        arr.resize(tuple(shape))
    offset = int(first.prep.core_run["replicate_offset"])
    rep = root[cv.REPLICATE]
    for b in range(plan.n_blocks):
        a, z = plan.block_range(b)
        rep[a:z] = np.arange(offset + a, offset + z, dtype=np.int64)
    prog = root.create_group(PROGRESS_GROUP, overwrite=True)
    prog.create_array(
        "block_done",
        shape=(len(plan.points), plan.n_blocks),
        chunks=(1, 1),
        dtype="int8",
        fill_value=0,
        compressors=safety.checksummed_codecs(),
        # Named dimensions make the group readable by xr.open_datatree (zarr 3 needs them).
        dimension_names=PROGRESS_DIMS,
    )
    prog.attrs.update(
        {
            "description": (
                "block_done[p, b] = 1 once block b (replicates b*block_size ...) of grid point p "
                "is written; blocks still 0 hold no final data (dtp_gillespie.stream)"
            ),
            "block_size": plan.block_size,
            "n_blocks": plan.n_blocks,
            "n_points": len(plan.points),
            "n_replicates": n,
        }
    )
    if plan.summary_only:
        summary.create_partials(
            prog,
            len(plan.points),
            plan.n_blocks,
            first.prep.times.size,
            len(first.prep.model.states),
            lead_dims=PROGRESS_DIMS,
        )
    # Last: from here on the store is resumable.
    prog.attrs["initialised"] = True
    # An interrupted store opens in plain xarray too, without a warning.
    refresh_metadata(store, storage_options)


def _unwritten_fill(dtype: np.dtype[Any]) -> Any:
    """What an unwritten replicate reads as: -1 for integers (no count, status or tally is
    negative; status -1 is ``not_run``), NaN for floats."""
    if np.issubdtype(dtype, np.signedinteger):
        return -1
    if np.issubdtype(dtype, np.floating):
        return np.nan
    raise InvalidRunError(f"internal error: no 'not run' fill value for dtype {dtype}")


@dataclass(frozen=True)
class BlockTask:
    """Everything a (possibly remote) worker needs to compute and write one block."""

    store: str
    group: str | None
    storage_options: Mapping[str, Any] | None
    plan: Plan
    point: int
    block: int
    n_threads: int | None = None


def write_block(task: BlockTask, progress: Callable[[int], None] | None = None) -> Capped:
    """Compute one block, write its region, then mark it done. Returns its replicates stopped early.

    Safe to run concurrently for different blocks (each touches only its own chunks).
    """
    plan = task.plan
    point = plan.points[task.point]
    a, z = plan.block_range(task.block)
    arrays = run_block(point.prep, a, z, progress, task.n_threads)
    capped = capped_counts(np.asarray(arrays[cv.STATUS]))
    stats = summary.block_stats(arrays, point.prep.times) if plan.summary_only else None
    ds = block_dataset(point.prep, arrays, 0)
    if stats is not None:
        ds = summary.per_replicate(ds)
    ds = _expand(plan, ds, point)
    keep = [v for v in ds.variables if cv.REPLICATE in ds[v].dims and v != cv.REPLICATE]
    ds = ds[keep].drop_vars([c for c in ds[keep].coords])
    ds.attrs = {}
    region: dict[str, slice] = {
        d: slice(i, i + 1) for d, i in zip(plan.sweep_dims, point.index, strict=True)
    }
    region[cv.REPLICATE] = slice(a, z)
    kwargs = safety.storage_kwargs(task.storage_options)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(
            task.store, group=task.group, region=region, mode="r+", consolidated=False, **kwargs
        )
    del ds, arrays
    prog = open_group(task.store, _join(task.group, PROGRESS_GROUP), "r+", task.storage_options)
    if stats is not None:
        summary.write_partials(prog, task.point, task.block, stats)
    prog["block_done"][task.point, task.block] = 1
    return capped


def _dask_block(task: BlockTask) -> Capped:
    """Dask task: one block with as many engine threads as the worker has."""
    if task.n_threads is None:
        try:
            from distributed import get_worker

            nthreads = int(get_worker().state.nthreads)
            task = BlockTask(**{**task.__dict__, "n_threads": max(1, nthreads)})
        except Exception:  # pragma: no cover - not on a worker
            pass
    return write_block(task)


def stream_to_store(
    plan: Plan,
    store: str | os.PathLike[str],
    *,
    group: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | str = False,
    client: Any = None,
    n_threads: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    seed_drawn: bool = False,
) -> xr.Dataset:
    """Run a plan into a zarr store block by block; return the lazily opened Dataset.

    Memory stays at a few blocks whatever the number of replicates. The run holds the store's
    writer's lock throughout (:mod:`dtp_gillespie.store_safety`). ``seed_drawn``: the caller drew
    a fresh seed because ``resume=True`` came without one (said in a warning unless the store
    held it).
    """
    path = safety.check_store_path(store)
    where = safety.describe(path, group)
    exists = safety.exists(path, group, storage_options)
    if exists and not (resume or overwrite):
        raise InvalidRunError(
            f"{where} exists; pass resume=True (CLI: --resume) to finish an interrupted run "
            "with the same spec and seed, or overwrite=True (--overwrite) to replace it"
        )
    if exists:
        safety.check_not_locked(path, group, where)
    if exists and not safety.recognised_store(path, group, storage_options):
        raise InvalidRunError(
            f"{where} exists but holds no dtp-gillespie run; refusing to "
            f"{'overwrite' if overwrite else 'write into'} it"
        )
    locked = False
    try:
        with safety.store_lock(path, group, storage_options):
            locked = True
            if exists and overwrite:
                safety.clear_group(path, group, storage_options, keep_lock=True)
                exists = False
            plan, status = _resumable(plan, path, group, storage_options, where, exists)
            capped = _run_blocks(
                plan, path, group, storage_options, status, progress, client, n_threads
            )
            if plan.summary_only:
                _finalise_statistics(plan, path, group, storage_options)
            _mark_complete(path, group, storage_options)
    except BaseException:
        if locked:
            # The lock is gone and the run stopped: consolidate what the store now holds, so
            # that no stale copy describes it (best effort: the error that stopped the run is
            # the one to report).
            with contextlib.suppress(Exception):
                refresh_metadata(path, storage_options)
        raise
    # After the lock is released, so that the consolidated metadata does not list it.
    refresh_metadata(path, storage_options)
    total = len(plan.points) * plan.n_replicates
    if seed_drawn:
        warnings.warn(
            f"resume=True without a seed, and {where} records none: the run started with a fresh "
            f"seed, {_wanted_attrs(plan)[cv.ATTR_SEED]}, recorded in its attrs['seed']",
            UserWarning,
            stacklevel=4,
        )
    if not resume or not status.replicates_done:
        warn_capped(capped, total, plan.points[0].prep, stacklevel=4)
    from .io import open_run

    out = open_run(path, group=group, storage_options=storage_options)
    if not isinstance(out, xr.Dataset):
        raise InvalidRunError(f"internal error: {where} opened as a tree")
    return out


def _resumable(
    plan: Plan,
    path: str,
    group: str | None,
    storage_options: Mapping[str, Any] | None,
    where: str,
    exists: bool,
) -> tuple[Plan, StoreStatus]:
    """Under the writer's lock: check that an existing store holds this very run (or nothing),
    write the template if it is not there yet, and return the plan (with the store's block
    size) and the store's status."""
    status = store_status(path, group=group, storage_options=storage_options)
    if exists:
        stored = stored_attrs(path, group=group, storage_options=storage_options)
        if stored is None and status.initialised:
            raise InvalidRunError(f"{where}: cannot read the run's attributes")
        blank = stored is not None and safety.is_blank(
            open_group(path, group, "r", storage_options)
        )
        if stored is not None and not blank:
            _check_identity(stored, _wanted_attrs(plan), where)
        if status.initialised and (
            status.block_size != plan.block_size and status.n_replicates == plan.n_replicates
        ):
            plan = _with_block_size(plan, status.block_size)
    if not status.initialised:
        _write_template(plan, path, group, storage_options)
        status = store_status(path, group=group, storage_options=storage_options)
    if status.done.shape != (len(plan.points), plan.n_blocks):
        raise InvalidRunError(f"{where}: block layout {status.done.shape} does not match the run")
    return plan, status


def _mark_complete(path: str, group: str | None, storage_options: Mapping[str, Any] | None) -> None:
    """Remove the ``incomplete`` attribute once every block (and any statistics) is written."""
    if store_status(path, group=group, storage_options=storage_options).complete:
        attrs = open_group(path, group, "r+", storage_options).attrs
        if INCOMPLETE_ATTR in attrs:
            del attrs[INCOMPLETE_ATTR]


def _run_blocks(
    plan: Plan,
    path: str,
    group: str | None,
    storage_options: Mapping[str, Any] | None,
    status: StoreStatus,
    progress: bool | str,
    client: Any,
    n_threads: int | None,
) -> Capped:
    """Compute and write every block not done yet (locally or as Dask tasks); return how many
    replicates stopped early, by reason."""
    todo = [(p, b) for p, b in plan.tasks() if not status.done[p, b]]
    sizes = {b: plan.block_range(b)[1] - plan.block_range(b)[0] for b in range(plan.n_blocks)}
    total = len(plan.points) * plan.n_replicates
    capped = Capped()
    bar = _bar(progress, total, status.replicates_done)
    try:
        if client is None:
            for p, b in todo:
                base = bar.n if bar is not None else 0

                def report(done: int, base: int = base) -> None:
                    if bar is not None:
                        bar.update(base + done - bar.n)

                capped += write_block(
                    BlockTask(path, group, storage_options, plan, p, b, n_threads),
                    report if bar is not None else None,
                )
                if bar is not None:
                    bar.update(base + sizes[b] - bar.n)
        else:
            from distributed import as_completed

            futures = {
                client.submit(
                    _dask_block,
                    BlockTask(path, group, storage_options, plan, p, b, n_threads),
                    pure=False,
                    key=f"dtp-gillespie-block-{p}-{b}-{os.urandom(4).hex()}",
                ): b
                for p, b in todo
            }
            try:
                for fut in as_completed(futures):
                    capped += fut.result()
                    if bar is not None:
                        bar.update(sizes[futures[fut]])
            except BaseException:
                client.cancel(list(futures))
                raise
    finally:
        if bar is not None:
            bar.close()
    return capped


def _finalise_statistics(
    plan: Plan, store: str, group: str | None, storage_options: Mapping[str, Any] | None
) -> None:
    """Summary mode, once every block is done: merge the blocks' partial statistics (in block
    order; the merge is exact anyway) and write the ensemble statistics. Idempotent."""
    root = open_group(store, group, "r+", storage_options)
    prog = root[PROGRESS_GROUP]
    done = np.asarray(prog["block_done"][...]) != 0
    if not done.all():
        raise InvalidRunError("internal error: statistics finalised before every block is done")
    for p, point in enumerate(plan.points):
        # One block's partials in memory at a time, merged into the running total.
        acc = summary.read_partials(prog, p, 0)
        for b in range(1, plan.n_blocks):
            acc = summary.merge_stats([acc, summary.read_partials(prog, p, b)])
        stats = summary.statistics(acc)
        for name, values in stats.items():
            root[name][(*point.index, Ellipsis)] = values
    prog.attrs["statistics_done"] = True


def _with_block_size(plan: Plan, block_size: int) -> Plan:
    return Plan(
        points=plan.points,
        block_size=block_size,
        sweep_dims=plan.sweep_dims,
        sweep_coords=plan.sweep_coords,
        sweep_attrs=plan.sweep_attrs,
        summary_only=plan.summary_only,
    )


def _wanted_attrs(plan: Plan) -> dict[str, Any]:
    prep = plan.points[0].prep
    attrs: dict[str, Any] = {
        cv.ATTR_MODEL: json.dumps(prep.model.to_dict()),
        cv.ATTR_SCHEDULE: json.dumps(prep.schedule.to_dict()),
        cv.ATTR_RUN: json.dumps(prep.run_spec),
        cv.ATTR_SEED: prep.seed_attrs[cv.ATTR_SEED],
        cv.ATTR_RNG: _core.RNG_NAME,
        cv.ATTR_VERSION: _core.__version__,
        cv.ATTR_SCHEMA_VERSION: cv.SCHEMA_VERSION,
    }
    if cv.ATTR_SEED_SPAWN_KEY in prep.seed_attrs:
        attrs[cv.ATTR_SEED_SPAWN_KEY] = list(prep.seed_attrs[cv.ATTR_SEED_SPAWN_KEY])
    if plan.sweep_attrs:
        attrs.pop(cv.ATTR_SEED_SPAWN_KEY, None)
        attrs.update(plan.sweep_attrs)
    return attrs


def _bar(progress: bool | str, total: int, initial: int) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="replicate",
        smoothing=0.1,
        desc=progress if isinstance(progress, str) else "simulate",
    )


def run_in_memory_with_client(plan: Plan, client: Any, n_threads: int | None = None) -> xr.Dataset:
    """Dask without a store: blocks run as tasks and come back to the client (memory grows)."""
    from distributed import wait

    futures = [
        client.submit(
            _dask_arrays, plan.points[p].prep, *plan.block_range(b), n_threads, pure=False
        )
        for p, b in plan.tasks()
    ]
    wait(futures)
    results = client.gather(futures)
    if len(plan.points) != 1:
        raise InvalidRunError("internal error: use dtp_gillespie.sweep for grids")
    prep = plan.points[0].prep
    arrays = {k: np.concatenate([r[k] for r in results]) for k in results[0]}
    ds = block_dataset(prep, arrays, int(prep.core_run["replicate_offset"]))
    warn_capped(capped_counts(np.asarray(arrays[cv.STATUS])), plan.n_replicates, prep, stacklevel=4)
    return ds


def _summary_block(
    prep: Prepared, start: int, stop: int, n_threads: int | None
) -> tuple[xr.Dataset, summary.BlockStats, Capped]:
    """One block in summary mode: its per-replicate Dataset, partial statistics and caps."""
    arrays = run_block(prep, start, stop, None, n_threads)
    stats = summary.block_stats(arrays, prep.times)
    capped = capped_counts(np.asarray(arrays[cv.STATUS]))
    offset = int(prep.core_run["replicate_offset"]) + start
    return summary.per_replicate(block_dataset(prep, arrays, offset)), stats, capped


def combine_points(plan: Plan, datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    """The grid points' Datasets (in plan order) as one, along the sweep dimensions if any, with
    the run's final attrs."""
    if plan.sweep_dims:
        nested: Any = np.empty(plan.grid_shape, dtype=object)
        for point, ds in zip(plan.points, datasets, strict=True):
            nested[point.index] = ds
        out = xr.combine_nested(
            nested.tolist(), concat_dim=list(plan.sweep_dims), combine_attrs="drop_conflicts"
        )
    else:
        out = datasets[0]
    out.attrs = _final_attrs(plan, datasets[0])
    return out


def summary_in_memory(
    plan: Plan, progress: bool | str = False, client: Any = None, n_threads: int | None = None
) -> xr.Dataset:
    """Summary mode without a store: blocks run locally (or as Dask tasks), memory stays at a
    block plus the per-replicate summaries and one merged set of partial statistics per grid
    point (each block's is merged in as it arrives: the merge is exact and order-free).
    Identical to the streamed summary."""
    total = len(plan.points) * plan.n_replicates
    bar = _bar(progress, total, 0)
    per_replicate: dict[tuple[int, int], xr.Dataset] = {}
    merged: dict[int, summary.BlockStats] = {}
    capped = Capped()

    def absorb(p: int, b: int, result: Any) -> None:
        nonlocal capped
        per_rep, stats, block_capped = result
        per_replicate[p, b] = per_rep
        merged[p] = stats if p not in merged else summary.merge_stats([merged[p], stats])
        capped += block_capped
        if bar is not None:
            bar.update(plan.block_range(b)[1] - plan.block_range(b)[0])

    try:
        if client is None:
            for p, b in plan.tasks():
                absorb(p, b, _summary_block(plan.points[p].prep, *plan.block_range(b), n_threads))
        else:
            from distributed import as_completed

            futures = {
                client.submit(
                    _summary_block,
                    plan.points[p].prep,
                    *plan.block_range(b),
                    n_threads,
                    pure=False,
                    key=f"dtp-gillespie-summary-{p}-{b}-{os.urandom(4).hex()}",
                ): (p, b)
                for p, b in plan.tasks()
            }
            try:
                for fut in as_completed(futures):
                    absorb(*futures[fut], fut.result())
            except BaseException:
                client.cancel(list(futures))
                raise
    finally:
        if bar is not None:
            bar.close()
    datasets = []
    for p, point in enumerate(plan.points):
        blocks = [per_replicate.pop((p, b)) for b in range(plan.n_blocks)]
        per_rep = xr.concat(blocks, dim=cv.REPLICATE, data_vars="minimal", coords="minimal")
        per_rep.attrs = dict(blocks[0].attrs)
        stats = summary.statistics(merged.pop(p))
        datasets.append(_expand(plan, summary.with_statistics(per_rep, stats), point))
    out = combine_points(plan, datasets)
    warn_capped(capped, total, plan.points[0].prep, stacklevel=4)
    return out


def summary_prepared(prep: Prepared) -> Prepared:
    """The prepared run with ``summary_only`` recorded in its run spec (and the run attribute)."""
    return dataclasses.replace(prep, run_spec={**prep.run_spec, "summary_only": True})


def _dask_arrays(
    prep: Prepared, start: int, stop: int, n_threads: int | None
) -> dict[str, npt.NDArray[Any]]:
    return run_block(prep, start, stop, None, n_threads)


def simulate_to_store(
    model: Any,
    schedule: Any,
    *,
    store: str | os.PathLike[str] | None = None,
    group: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    block_size: int | None = None,
    progress: bool | str = False,
    client: Any = None,
    storage_options: Mapping[str, Any] | None = None,
    summary_only: bool = False,
    **run: Any,
) -> xr.Dataset:
    """:func:`~dtp_gillespie.simulate` with ``store=``, ``client=`` and/or ``summary_only=``.

    With ``resume=True`` and no ``seed``, the seed recorded in the store is used.
    """
    from ._memory import check_run_fits
    from ._seeding import seed_from_attrs
    from .simulate import prepare

    if store is not None:
        store = safety.check_store_path(store)
    if resume and store is not None and run.get("seed") is None:
        stored = stored_attrs(store, group=group, storage_options=storage_options)
        if stored is not None and cv.ATTR_RUN in stored:
            spec = json.loads(stored[cv.ATTR_RUN])
            run["seed"] = seed_from_attrs(spec["seed"], spec.get("seed_spawn_key"))
    seed_drawn = resume and run.get("seed") is None
    summary_only = check_flag(summary_only, "summary_only")
    n_threads = run.get("n_threads")
    prep = prepare(model, schedule, **run)
    if summary_only:
        prep = summary_prepared(prep)
    plan = make_plan(prep, block_size=block_size, summary_only=summary_only)
    check_run_fits(
        prep, block_size=plan.block_size, in_memory=store is None, summary_only=summary_only
    )
    if store is None and summary_only:
        return summary_in_memory(plan, progress, client, n_threads)
    if store is None:
        if client is None:
            raise InvalidRunError("internal error: simulate_to_store needs store or client")
        return run_in_memory_with_client(plan, client, n_threads)
    return stream_to_store(
        plan,
        store,
        group=group,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        client=client,
        n_threads=n_threads,
        storage_options=storage_options,
        seed_drawn=seed_drawn,
    )
