"""The zarr store sink: a run streamed block by block into a store, resumable after a crash.

The order of the writes, and why a store killed at any point can be resumed, is described in
:mod:`dtp_gillespie.stream`. The session holds the store's writer's lock
(:mod:`dtp_gillespie.store_safety`) from the identity check of an existing store to the last
write; each block's work (:func:`write_block`) writes its own region and then marks itself done,
so blocks can be written concurrently by Dask workers. A run with lineage tables hands each
block's table rows back to the caller, which appends them in replicate order and only then marks
the block done (:mod:`dtp_gillespie._sink_tables`).
"""

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import conventions as cv
from . import store_safety as safety
from . import summary
from ._block import Block, BlockResult, block_dataset, simulate_block
from ._execute import warn
from ._plan import Plan, label_sweep_dims, provenance
from ._pool_steps import create_progress, runs_jumps, stored_pool_steps, write_progress
from ._sink_tables import (
    TABLE_CHUNK_ROWS,
    OrderedTables,
    create_table_progress,
    stage,
    trim_tables,
)
from ._store_status import (
    INCOMPLETE_ATTR,
    INCOMPLETE_NOTE,
    PROGRESS_DIMS,
    PROGRESS_GROUP,
    StoreStatus,
    check_identity,
    join,
    store_status,
    stored_attrs,
)
from ._store_status import unwritten_fill as _unwritten_fill
from .errors import InvalidRunError
from .io import open_run, refresh_metadata
from .store_safety import open_group

__all__ = ["StoreBlock", "StoreSink", "write_block"]


@dataclass(frozen=True)
class StoreBlock(Block):
    """A block and where it goes: everything a (possibly remote) worker needs to compute and
    write it."""

    store: str = ""
    group: str | None = None
    storage_options: Mapping[str, Any] | None = None
    sweep_dims: tuple[str, ...] = ()
    summary_only: bool = False
    ordered: bool = False
    """The run has lineage tables: the caller appends the block's rows and marks it done."""
    staged: bool = False
    """With ``ordered``: write the block's rows to the store's staging area rather than
    return them (Dask: the caller then holds one block's rows at a time)."""


def write_block(job: StoreBlock, progress: Callable[[int], None] | None = None) -> BlockResult:
    """Compute one block, write its region, then mark it done (no payload: the data are in the
    store). Safe to run concurrently for different blocks (each touches only its own chunks).
    With lineage tables (``job.ordered``) the block is not marked done here: its payload is its
    table rows, which the caller appends in order (``_sink_tables.OrderedTables``) before
    marking it."""
    arrays, capped, pool_steps = simulate_block(job, progress)
    stats = summary.block_stats(arrays, job.prep.times) if job.summary_only else None
    ds = block_dataset(job.prep, arrays, 0)
    if stats is not None:
        ds = summary.per_replicate(ds)
    if job.sweep_dims:
        ds = ds.expand_dims(list(job.sweep_dims))
    keep = [v for v in ds.variables if cv.REPLICATE in ds[v].dims and v != cv.REPLICATE]
    ds = ds[keep].drop_vars([c for c in ds[keep].coords])
    ds.attrs = {}
    region: dict[str, slice] = {
        d: slice(i, i + 1) for d, i in zip(job.sweep_dims, job.index, strict=True)
    }
    region[cv.REPLICATE] = slice(job.start, job.stop)
    kwargs = safety.storage_kwargs(job.storage_options)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        # Another block's writer may be mid-way through an atomic metadata write (a transient
        # `zarr.<id>.partial` file, renamed into place); zarr's member listing skips it with a
        # warning. It is never one of this block's arrays.
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr")
        ds.to_zarr(
            job.store, group=job.group, region=region, mode="r+", consolidated=False, **kwargs
        )
    del ds
    prog = open_group(job.store, join(job.group, PROGRESS_GROUP), "r+", job.storage_options)
    if job.ordered:
        tables = {k: v for k, v in arrays.items() if cv.OUTPUT[k].table}
        payload = stage(prog, job.point, job.block, tables) if job.staged else tables
        return BlockResult(payload, capped)
    del arrays
    if stats is not None:
        summary.write_partials(prog, job.point, job.block, stats)
    write_progress(prog, job.point, job.block, pool_steps)
    prog["block_done"][job.point, job.block] = 1
    return BlockResult(None, capped)


def _write(job: StoreBlock, progress: Callable[[int], None] | None = None) -> BlockResult:
    # Looked up at each call, so that tests can interrupt a run by replacing write_block.
    return write_block(job, progress)


class StoreSink:
    """Streams a plan into the zarr store ``store`` (at ``group``): see the module docstring."""

    work = staticmethod(_write)

    def __init__(
        self,
        store: str,
        *,
        group: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        seed_drawn: bool = False,
        stage_tables: bool = False,
    ) -> None:
        self.path = safety.check_store_path(store)
        self.group = safety.check_group(group)
        self.storage_options = storage_options
        self.resume = resume
        self.overwrite = overwrite
        self.seed_drawn = seed_drawn
        self.where = safety.describe(self.path, group)
        self._tables: OrderedTables | None = None
        self.stage_tables = stage_tables

    @contextlib.contextmanager
    def session(self, plan: Plan) -> Iterator[tuple[Plan, npt.NDArray[np.bool_]]]:
        """Check an existing store, take its writer's lock, write the template if it is not
        there yet; yield the plan (with the store's block size) and the blocks already done. On
        leaving, consolidate the metadata (also after an error or Ctrl-C: best effort)."""
        path, group, options, where = self.path, self.group, self.storage_options, self.where
        exists = safety.exists(path, group, options)
        if exists and not (self.resume or self.overwrite):
            raise InvalidRunError(
                f"{where} exists; pass resume=True (CLI: --resume) to finish an interrupted run "
                "with the same spec and seed, or overwrite=True (--overwrite) to replace it"
            )
        if exists:
            # Any live writer below, too: overwriting must not delete a run of one of its groups.
            safety.check_no_writer_below(path, group, where)
        if exists and not safety.recognised_store(path, group, options):
            raise InvalidRunError(
                f"{where} exists but holds no dtp-gillespie run; refusing to "
                f"{'overwrite' if self.overwrite else 'write into'} it"
            )
        locked = False
        try:
            with safety.store_lock(path, group, options):
                locked = True
                if exists and self.overwrite:
                    # Again under the lock: a writer of a group inside may have started since.
                    safety.check_no_writer_below(path, group, where, own_lock=True)
                    safety.clear_group(path, group, options, keep_lock=True)
                    exists = False
                safety.tidy_killed_writes(path, group)
                plan, status = self._resumable(plan, exists)
                done = status.done
                if plan.ordered:
                    done = self._open_tables(plan)
                try:
                    yield plan, done
                except BaseException:
                    if plan.ordered:  # still under the lock
                        self._clean_up_tables()
                    raise
        except BaseException:
            if locked:
                # The lock is gone and the run stopped: consolidate what the store now holds,
                # so that no stale copy describes it (best effort: the error that stopped the
                # run is the one to report).
                with contextlib.suppress(Exception):
                    refresh_metadata(path, options)
            raise
        # After the lock is released, so that the consolidated metadata does not list it.
        refresh_metadata(path, options)

    def job(self, plan: Plan, block: Block) -> StoreBlock:
        return StoreBlock(
            **{f.name: getattr(block, f.name) for f in fields(block)},
            store=self.path,
            group=self.group,
            storage_options=self.storage_options,
            sweep_dims=plan.sweep_dims,
            summary_only=plan.summary_only,
            ordered=plan.ordered,
            staged=plan.ordered and self.stage_tables,
        )

    def absorb(self, job: StoreBlock, payload: Mapping[str, npt.NDArray[Any]] | str | None) -> None:
        if payload is not None:
            assert self._tables is not None
            self._tables.add(job.point, job.block, payload)

    def _clean_up_tables(self) -> None:
        """After an error or Ctrl-C: leave the tables with exactly the rows of the blocks marked
        done (best effort; a resumed run does it anyway)."""
        with contextlib.suppress(Exception):
            self._trim()

    def _trim(self) -> npt.NDArray[np.bool_]:
        root = open_group(self.path, self.group, "r+", self.storage_options)
        return trim_tables(root, root[PROGRESS_GROUP])

    def _open_tables(self, plan: Plan) -> npt.NDArray[np.bool_]:
        """Under the lock: the tables cut to the rows of the done blocks, and the appender of
        the rest; returns the blocks that stay done."""
        done = self._trim()
        root = open_group(self.path, self.group, "r+", self.storage_options)
        pending = [(p, b) for p, b in plan.tasks() if not done[p, b]]
        self._tables = OrderedTables(root, root[PROGRESS_GROUP], pending)
        return done

    def complete(self, plan: Plan) -> None:
        """Every block is written: a summary's statistics, then the ``incomplete`` mark off."""
        if self._tables is not None and not self._tables.finished:
            raise InvalidRunError(f"internal error: {self.where}: table rows left unwritten")
        if plan.summary_only:
            _finalise_statistics(plan, self.path, self.group, self.storage_options)
        _write_pool_steps(plan, self.path, self.group, self.storage_options)
        _mark_complete(self.path, self.group, self.storage_options)

    def result(self, plan: Plan) -> xr.Dataset:
        """The finished store, opened lazily."""
        if self.seed_drawn:
            warn(
                f"resume=True without a seed, and {self.where} records none: the run started "
                f"with a fresh seed, {provenance(plan)[cv.ATTR_SEED]}, recorded in its "
                "attrs['seed']"
            )
        out = open_run(self.path, group=self.group, storage_options=self.storage_options)
        if not isinstance(out, xr.Dataset):
            raise InvalidRunError(f"internal error: {self.where} opened as a tree")
        return out

    def _resumable(self, plan: Plan, exists: bool) -> tuple[Plan, StoreStatus]:
        """Under the writer's lock: check that an existing store holds this very run (or
        nothing), write the template if it is not there yet, and return the plan (with the
        store's block size) and the store's status."""
        path, group, options, where = self.path, self.group, self.storage_options, self.where
        status = store_status(path, group=group, storage_options=options)
        if exists:
            stored = stored_attrs(path, group=group, storage_options=options)
            if stored is None and status.initialised:
                raise InvalidRunError(f"{where}: cannot read the run's attributes")
            blank = stored is not None and safety.is_blank(open_group(path, group, "r", options))
            if stored is not None and not blank:
                check_identity(stored, provenance(plan), where)
                if not status.initialised and INCOMPLETE_ATTR not in stored:
                    # A finished run written in one go (write_run, ds.to_zarr): nothing to
                    # resume, and the template would replace it.
                    raise InvalidRunError(
                        f"{where} holds a finished run that was not streamed (no progress "
                        "record): resume=True only finishes an interrupted streamed run; open it "
                        "with dtp_gillespie.open_run, or pass overwrite=True to run it again"
                    )
            if status.initialised and (
                status.block_size != plan.block_size and status.n_replicates == plan.n_replicates
            ):
                plan = plan.with_block_size(status.block_size)
        if not status.initialised:
            _write_template(plan, path, group, options)
            status = store_status(path, group=group, storage_options=options)
        if status.done.shape != (len(plan.points), plan.n_blocks):
            raise InvalidRunError(
                f"{where}: block layout {status.done.shape} does not match the run"
            )
        return plan, status


def _mark_complete(path: str, group: str | None, storage_options: Mapping[str, Any] | None) -> None:
    """Remove the ``incomplete`` attribute once every block (and any statistics) is written."""
    if store_status(path, group=group, storage_options=storage_options).complete:
        attrs = open_group(path, group, "r+", storage_options).attrs
        if INCOMPLETE_ATTR in attrs:
            del attrs[INCOMPLETE_ATTR]


def _write_pool_steps(
    plan: Plan, store: str, group: str | None, storage_options: Mapping[str, Any] | None
) -> None:
    """Jump runs, once every block is done: the sum of the blocks' regime counts as the
    ``jump_pool_steps`` attribute (:mod:`dtp_gillespie._pool_steps`). Idempotent."""
    root = open_group(store, group, "r+", storage_options)
    attrs = stored_pool_steps(root[PROGRESS_GROUP], plan.points[0].prep.model.states)
    if attrs:  # an SSA run's metadata is not rewritten
        root.attrs.update(attrs)


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


def _write_template(
    plan: Plan, store: str, group: str | None, storage_options: Mapping[str, Any] | None
) -> None:
    """Steps 1 and 2: the full-size template and the progress marker (overwrites the group)."""
    first = plan.points[0]
    probe = simulate_block(Block(0, 0, 0, 1, first.prep)).arrays
    ds = block_dataset(first.prep, probe, int(first.prep.core_run["replicate_offset"]))
    if plan.summary_only:
        # Statistics of no replicate (NaN, -1, 0) until every block is done.
        empty = summary.empty_stats(first.prep.times.size, len(first.prep.model.states))
        ds = summary.with_statistics(summary.per_replicate(ds), summary.statistics(empty))
    if plan.sweep_dims:
        ds = ds.expand_dims({d: list(plan.sweep_coords[d]) for d in plan.sweep_dims})
        ds = label_sweep_dims(plan, ds)
    ds.attrs = {**provenance(plan, ds.attrs[cv.ATTR_CREATED_AT]), INCOMPLETE_ATTR: INCOMPLETE_NOTE}
    nd = len(plan.sweep_dims)
    encoding: dict[str, dict[str, Any]] = {}
    # The tables start empty; each block's rows are appended in order (_sink_tables).
    ds = ds.isel({d: slice(0, 0) for d in (cv.LINEAGE_ROW, cv.CLONE_ROW) if d in ds.dims})
    for name, var in list(ds.variables.items()):
        if str(name) in cv.OUTPUT and cv.OUTPUT[str(name)].table:
            encoding[str(name)] = {
                "chunks": (TABLE_CHUNK_ROWS,),
                "fill_value": _unwritten_fill(var.dtype),
            }
        elif cv.REPLICATE in var.dims:
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
    replicate_vars = [name for name in encoding if cv.REPLICATE in ds[name].dims]
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
    if plan.ordered:
        create_table_progress(prog, len(plan.points), plan.n_blocks, PROGRESS_DIMS)
    if runs_jumps(point.prep.core_run for point in plan.points):
        create_progress(
            prog, len(plan.points), plan.n_blocks, len(first.prep.model.states), PROGRESS_DIMS
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
