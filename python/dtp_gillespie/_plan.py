"""Plans: what a run computes (grid points x blocks of replicates) and the attributes it records.

A :class:`Plan` is one or more prepared runs (a plain run has one grid point, a sweep one per
point of its grid, in C order) cut into *blocks* of ``block_size`` consecutive replicates (the
last one may be shorter). A block is the unit of work of every executor and sink
(:mod:`dtp_gillespie._execute`): one engine call, one zarr region, one Dask task. Every replicate
draws from its own stream (seed, global replicate index), so the result does not depend on how
the replicates are cut into blocks.

This module is also the one place the run's provenance attributes are built
(:func:`provenance`): the output Dataset, the store template and the identity check of a resumed
store all read them from here.
"""

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import _core
from . import conventions as cv
from ._auto import run_attrs
from ._block import Block
from ._checks import check_count
from ._memory import check_run_fits, memory_limit
from ._method import density_attrs
from ._options import Prepared
from ._pool_steps import PoolSteps, pool_steps_attrs
from .barcodes import LINEAGE_ROW_BYTES, TRACKER_BYTES_PER_LINEAGE_STATE
from .errors import InvalidRunError

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "Plan",
    "Point",
    "combine_points",
    "default_block_size",
    "expand",
    "make_plan",
    "provenance",
]

DEFAULT_BLOCK_BYTES = 64 << 20
"""Default block (= chunk) size: about 64 MiB of ``count`` per block."""


def default_block_size(n_times: int, n_states: int, n_replicates: int, table_bytes: int = 0) -> int:
    """Replicates per block: about :data:`DEFAULT_BLOCK_BYTES` of int64 counts (and of the
    lineage table, ``table_bytes`` per replicate), at least 1."""
    per_rep = 8 * max(1, n_times) * max(1, n_states) + table_bytes
    return max(1, min(n_replicates, DEFAULT_BLOCK_BYTES // per_rep))


def table_bytes_per_replicate(prep: Prepared) -> int:
    """A rough size of one replicate's lineage table (0 without lineage tracking): see
    :meth:`~dtp_gillespie.barcodes.Lineages.rows_per_replicate`."""
    if prep.lineages is None:
        return 0
    initial = sum(int(n) for n in prep.core_run["initial"])
    return LINEAGE_ROW_BYTES * prep.lineages.rows_per_replicate(initial)


def tracker_bytes_per_replicate(prep: Prepared) -> int:
    """A rough size of one running replicate's lineage tracker (0 without lineage tracking)."""
    if prep.lineages is None:
        return 0
    initial = sum(int(n) for n in prep.core_run["initial"])
    lineages = prep.lineages.initial_lineages(initial)
    return TRACKER_BYTES_PER_LINEAGE_STATE * lineages * len(prep.model.states)


def replicates_in_blocks(done: npt.NDArray[np.bool_], block_size: int, n_replicates: int) -> int:
    """Replicates in the blocks marked in ``done[point, block]`` (the last block of each point
    may be shorter)."""
    n_blocks = done.shape[-1] if done.ndim else 0
    sizes = np.full(n_blocks, block_size, dtype=np.int64)
    if n_blocks:
        sizes[-1] = n_replicates - block_size * (n_blocks - 1)
    return int((done * sizes).sum())


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
    def ordered(self) -> bool:
        """The run has long tables (lineages), whose rows a store appends in replicate order."""
        return self.points[0].prep.lineages is not None

    @property
    def n_replicates(self) -> int:
        """Replicates per grid point."""
        return int(self.points[0].prep.core_run["n_replicates"])

    @property
    def total_replicates(self) -> int:
        """Replicates over every grid point."""
        return len(self.points) * self.n_replicates

    @property
    def n_blocks(self) -> int:
        """Blocks per grid point."""
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

    def blocks(self, done: npt.NDArray[np.bool_] | None = None) -> list[Block]:
        """Every block (point-major), or those not ``done[point, block]`` yet."""
        out = []
        for p, b in self.tasks():
            if done is None or not done[p, b]:
                point = self.points[p]
                start, stop = self.block_range(b)
                out.append(Block(p, b, start, stop, point.prep, point.index))
        return out

    def replicates_in(self, done: npt.NDArray[np.bool_]) -> int:
        """Replicates (over every grid point) in the blocks marked in ``done[point, block]``."""
        return replicates_in_blocks(done, self.block_size, self.n_replicates)

    def with_block_size(self, block_size: int) -> "Plan":
        """The same run cut into blocks of another size."""
        return replace(self, block_size=block_size)

    def check_fits(self, *, in_memory: bool) -> None:
        """Refuse the run if its result, in this mode, would not fit in memory
        (:mod:`dtp_gillespie._memory`)."""
        prep = self.points[0].prep
        check_run_fits(
            n_times=prep.times.size,
            n_states=len(prep.model.states),
            n_replicates=self.n_replicates,
            concentration=prep.schedule.kind == "pk",
            biomarker=prep.model.biomarker is not None,
            n_points=len(self.points),
            block_size=self.block_size,
            in_memory=in_memory,
            summary_only=self.summary_only,
        )
        table = table_bytes_per_replicate(prep)
        if table == 0:
            return
        replicates = self.n_replicates * len(self.points) if in_memory else self.block_size
        # The trackers of the replicates running at once, on top of the tables written so far.
        running = _core.trackers_at_once(
            prep.core_run["n_threads"], min(self.block_size, self.n_replicates)
        )
        trackers = running * tracker_bytes_per_replicate(prep)
        limit, source = memory_limit()
        if table * replicates + trackers > limit:
            raise InvalidRunError(
                f"the lineage tables of {replicates} replicates and the lineage trackers of the "
                f"{running} running at once would take at least about "
                f"{(table * replicates + trackers) / (1 << 30):.3g} GiB of memory (one row per "
                "initial lineage and barcode time, and each tracker about "
                f"{TRACKER_BYTES_PER_LINEAGE_STATE} bytes per lineage and cell state), more than "
                f"the limit of {limit / (1 << 30):.3g} GiB ({source}); "
                + (
                    "pass store='run.zarr' to stream them to disk, record fewer barcode_times, "
                    "or run on fewer threads (n_threads)"
                    if in_memory
                    else "pass a smaller block_size, record fewer barcode_times, or run on fewer "
                    "threads (n_threads)"
                )
            )


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
        bs = default_block_size(
            first.times.size, len(first.model.states), n_rep, table_bytes_per_replicate(first)
        )
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
# Provenance: the global attributes of a run's output.


def provenance(plan: Plan, created_at: str | None = None) -> dict[str, Any]:
    """The global attributes of the plan's output: the specs (JSON), the seed, the PRNG and
    versions (docs/output.md); a sweep's base specs, root seed and grid replace the first
    point's. Without ``created_at`` (the identity of a run, as a resumed store must match it)
    there is no ``created_at`` key."""
    prep = plan.points[0].prep
    attrs: dict[str, Any] = {
        cv.ATTR_MODEL: json.dumps(prep.model.to_dict()),
        cv.ATTR_SCHEDULE: json.dumps(prep.schedule.to_dict()),
        cv.ATTR_RUN: json.dumps(prep.run_spec),
        cv.ATTR_SEED: prep.seed_attrs[cv.ATTR_SEED],
    }
    if cv.ATTR_SEED_SPAWN_KEY in prep.seed_attrs:
        attrs[cv.ATTR_SEED_SPAWN_KEY] = list(prep.seed_attrs[cv.ATTR_SEED_SPAWN_KEY])
    attrs.update(run_attrs([(p.prep.run_spec, p.prep.auto_attrs) for p in plan.points]))
    attrs.update(density_attrs(prep.run_spec, prep.core_model, prep.core_schedule, prep.core_run))
    attrs[cv.ATTR_RNG] = _core.RNG_NAME
    attrs[cv.ATTR_VERSION] = _core.__version__
    if created_at is not None:
        attrs[cv.ATTR_CREATED_AT] = created_at
    attrs[cv.ATTR_SCHEMA_VERSION] = cv.SCHEMA_VERSION
    if plan.sweep_attrs:
        attrs.pop(cv.ATTR_SEED_SPAWN_KEY, None)
        attrs.update(plan.sweep_attrs)
    return attrs


def sweep_provenance(
    model_spec: Mapping[str, Any],
    schedule_spec: Mapping[str, Any],
    run_spec: Mapping[str, Any],
    root_seed_attrs: Mapping[str, Any],
    description: Mapping[str, Any],
) -> dict[str, Any]:
    """The attributes a sweep records in place of its first point's (``Plan.sweep_attrs``): the
    base specs, the run options with the root seed, and ``sweep`` (grid and seeding rule)."""
    attrs: dict[str, Any] = {
        cv.ATTR_MODEL: json.dumps(model_spec),
        cv.ATTR_SCHEDULE: json.dumps(schedule_spec),
        cv.ATTR_RUN: json.dumps(run_spec),
        cv.ATTR_SEED: root_seed_attrs[cv.ATTR_SEED],
        "sweep": json.dumps(description),
    }
    if cv.ATTR_SEED_SPAWN_KEY in root_seed_attrs:
        attrs[cv.ATTR_SEED_SPAWN_KEY] = list(root_seed_attrs[cv.ATTR_SEED_SPAWN_KEY])
    return attrs


def now() -> str:
    """The ``created_at`` timestamp of an output (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# Sweep dimensions.


def label_sweep_dims(plan: Plan, ds: xr.Dataset) -> xr.Dataset:
    """Give the sweep coordinates of ``ds`` their attributes."""
    for d in plan.sweep_dims:
        ds[d].attrs = {"long_name": f"sweep parameter {d}", "units": "1"}
    return ds


def expand(plan: Plan, ds: xr.Dataset, point: Point) -> xr.Dataset:
    """One grid point's Dataset with the sweep dimensions in front (length 1: its coordinates)."""
    if not plan.sweep_dims:
        return ds
    coords = {
        d: [plan.sweep_coords[d][i]] for d, i in zip(plan.sweep_dims, point.index, strict=True)
    }
    return label_sweep_dims(plan, ds.expand_dims(coords))


def combine_points(
    plan: Plan,
    datasets: Sequence[xr.Dataset],
    pool_steps: Sequence[PoolSteps | None] = (),
) -> xr.Dataset:
    """The grid points' Datasets (in plan order) as one, along the sweep dimensions if any, with
    the run's provenance attributes and, for jump runs, the engine's regime counts of each point
    (``pool_steps``, plan order: :mod:`dtp_gillespie._pool_steps`)."""
    if plan.sweep_dims:
        nested: Any = np.empty(plan.grid_shape, dtype=object)
        for point, ds in zip(plan.points, datasets, strict=True):
            nested[point.index] = ds
        out: xr.Dataset = xr.combine_nested(
            nested.tolist(), concat_dim=list(plan.sweep_dims), combine_attrs="drop_conflicts"
        )
    else:
        out = datasets[0]
    out.attrs = provenance(plan, datasets[0].attrs.get(cv.ATTR_CREATED_AT) or now())
    out.attrs.update(pool_steps_attrs(plan.points[0].prep.model.states, pool_steps))
    return out
