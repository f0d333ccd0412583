"""Running a protocol: blocks of replicates through the steps, flask by flask.

Within a block every flask is one :class:`Population` (its lineage tables in each replicate).
A grow step makes one engine call per flask over the block's replicates; a sampling step draws
each replicate's flask from its own stream; a count step records. Because every draw comes from
a stream named by (step, flask, replicate) (:mod:`._streams`), the block size, the number of
threads and the replicate offset change nothing in the result.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .._checks import INT64_MAX, check_count
from .._options import Prepared, prepare
from .._seeding import SeedInfo, SeedLike, normalise_seed
from ..errors import InvalidRunError
from ._engine import grow_population
from ._population import Population, Rows
from ._sampling import (
    bottleneck_rows,
    founder_rows,
    library_rows,
    one_lineage_rows,
    passage_rows,
    split_rows,
)
from ._status import ALIVE, EXTINCT, SHORT
from ._steps import Bottleneck, Count, Grow, Passage, Split
from ._streams import barcode_rng, engine_key, sampling_rng

if TYPE_CHECKING:
    import xarray as xr

    from ._protocol import Protocol

__all__ = ["BlockRecord", "run_protocol"]

_DEFAULT_BLOCK = 256


@dataclass
class BlockRecord:
    """What the count steps of one block recorded."""

    start: int
    size: int
    totals: list[list[npt.NDArray[np.int64]]] = field(default_factory=list)
    """Per count step, per flask: (size, n_states), -1 where unknown."""
    status: list[list[npt.NDArray[np.int8]]] = field(default_factory=list)
    """Per count step, per flask: (size,)."""
    rows: list[tuple[npt.NDArray[np.int64], ...]] = field(default_factory=list)
    """Barcode rows (replicate, count_step, flask, barcode, state, count)."""


@dataclass
class _Flasks:
    """The flasks of a block after the steps so far, and each one's status per replicate."""

    populations: list[Population]
    status: list[npt.NDArray[np.int8]]


def _initial(protocol: "Protocol", seed: SeedInfo, start: int, size: int) -> Population:
    """The barcoded cells every replicate of the block starts from."""
    mode, init = protocol.barcodes, protocol.initial
    if mode is not None and mode.mode == "library":
        assert mode.n_barcodes is not None
        tables = [
            library_rows(init, mode.n_barcodes, barcode_rng(seed, start + i)) for i in range(size)
        ]
    else:
        rows = founder_rows(init) if mode is not None else one_lineage_rows(init)
        tables = [rows] * size
    return Population.build(tables, len(init))


def _sample(
    flasks: _Flasks, seed: SeedInfo, step_index: int, start: int, step: Split | Passage | Bottleneck
) -> _Flasks:
    """Every flask's cells after a split, passage or bottleneck."""
    n_states = flasks.populations[0].count.shape[1]
    out_pops: list[Population] = []
    out_status: list[npt.NDArray[np.int8]] = []
    k = step.flasks if isinstance(step, Split) else 1
    for f, (pop, status) in enumerate(zip(flasks.populations, flasks.status, strict=True)):
        children: list[list[Rows | None]] = [[] for _ in range(k)]
        child_status = [status.copy() for _ in range(k)]
        for i in range(pop.size):
            if not pop.known[i]:
                for j in range(k):
                    children[j].append(None)
                continue
            rng = sampling_rng(seed, step_index, f, start + i)
            rows = pop.rows(i)
            parts: Sequence[Rows | None]
            if isinstance(step, Split):
                parts = split_rows(rows, step.flasks, rng)
            elif isinstance(step, Passage):
                parts = [passage_rows(rows, step.fraction, rng)]
            else:
                parts = [bottleneck_rows(rows, step.cells, rng)]
            for j, part in enumerate(parts):
                children[j].append(part)
                if part is None:
                    child_status[j][i] = SHORT
                else:
                    child_status[j][i] = ALIVE if part.count.sum() > 0 else EXTINCT
        for j in range(k):
            out_pops.append(Population.build(children[j], n_states))
            out_status.append(child_status[j])
    return _Flasks(out_pops, out_status)


def _grow(
    flasks: _Flasks,
    prep: Prepared,
    seed: SeedInfo,
    step_index: int,
    start: int,
    threads: int | None,
) -> _Flasks:
    """Every flask after a grow step: one engine call per flask."""
    pops, statuses = [], []
    for f, (pop, status) in enumerate(zip(flasks.populations, flasks.status, strict=True)):
        key = engine_key(seed, step_index, f)
        grown, engine_status = grow_population(prep, pop, key, start, threads)
        new_status = np.where(pop.known, engine_status, status).astype(np.int8)
        pops.append(grown)
        statuses.append(new_status)
    return _Flasks(pops, statuses)


def _record(record: BlockRecord, flasks: _Flasks, count_step: int) -> None:
    """A count step: every flask's totals, status and barcode rows."""
    totals, status = [], []
    for f, (pop, st) in enumerate(zip(flasks.populations, flasks.status, strict=True)):
        t = pop.totals()
        t[~pop.known] = -1
        totals.append(t)
        status.append(st.copy())
        rep = np.repeat(np.arange(pop.size), np.diff(pop.offsets)) + record.start
        r_idx, s_idx = np.nonzero(pop.count)
        record.rows.append(
            (
                rep[r_idx],
                np.full(r_idx.size, count_step, np.int64),
                np.full(r_idx.size, f, np.int64),
                pop.barcode[r_idx],
                s_idx.astype(np.int64),
                pop.count[r_idx, s_idx],
            )
        )
    record.totals.append(totals)
    record.status.append(status)


def _run_block(
    protocol: "Protocol",
    preps: dict[int, Prepared],
    seed: SeedInfo,
    start: int,
    size: int,
    threads: int | None,
) -> BlockRecord:
    """One block of replicates through every step."""
    record = BlockRecord(start, size)
    pop = _initial(protocol, seed, start, size)
    initial_status = np.where(pop.totals().sum(axis=1) > 0, ALIVE, EXTINCT).astype(np.int8)
    flasks = _Flasks([pop], [initial_status])
    n_counts = 0
    for s, step in enumerate(protocol.steps):
        if isinstance(step, Grow):
            flasks = _grow(flasks, preps[s], seed, s, start, threads)
        elif isinstance(step, Count):
            _record(record, flasks, n_counts)
            n_counts += 1
        else:
            flasks = _sample(flasks, seed, s, start, step)
    return record


def run_protocol(
    protocol: "Protocol",
    *,
    n_replicates: int,
    seed: SeedLike,
    n_threads: int | None,
    replicate_offset: int,
    max_events: int | None,
    max_population: int | None,
    block_size: int | None,
) -> "xr.Dataset":
    """:meth:`Protocol.run`."""
    from ._output import build_result

    if not any(isinstance(s, Count) for s in protocol.steps):
        raise InvalidRunError("the protocol has no count step: it would record nothing")
    n = check_count(n_replicates, "n_replicates", 1)
    offset = check_count(replicate_offset, "replicate_offset", 0)
    if offset + n - 1 > INT64_MAX:
        raise InvalidRunError("replicate_offset + n_replicates exceeds the int64 range")
    block = _DEFAULT_BLOCK if block_size is None else check_count(block_size, "block_size", 1)
    for name, cap in (("max_events", max_events), ("max_population", max_population)):
        if cap is not None:
            check_count(cap, name, 1)
    seed_info = normalise_seed(seed)
    initial = dict(zip(protocol.model.states, protocol.initial, strict=True))
    preps: dict[int, Prepared] = {}
    for s, step in enumerate(protocol.steps):
        if isinstance(step, Grow):
            preps[s] = prepare(
                protocol.model,
                protocol.schedule_of(step, f"steps[{s}]"),
                initial=initial,
                t_end=step.duration,
                times=[step.duration],
                max_events=max_events,
                max_population=max_population,
                n_threads=n_threads,
                seed=0,  # the flasks' keys replace it (_streams)
            )
    records = [
        _run_block(protocol, preps, seed_info, offset + a, min(block, n - a), n_threads)
        for a in range(0, n, block)
    ]
    run = {
        "n_replicates": n,
        "replicate_offset": offset,
        "max_events": max_events,
        "max_population": max_population,
    }
    return build_result(protocol, records, seed_info, run)
