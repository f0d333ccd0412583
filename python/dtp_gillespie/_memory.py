"""Memory guard: refuse a run whose result would not fit in memory, before allocating it.

The engine allocates a call's whole output up front, and an allocation the system refuses aborts
the interpreter (a lost Jupyter kernel) instead of raising. So every run estimates, from its record
grid, states, replicates and mode, the memory its result needs and raises
:class:`~dtp_gillespie.errors.InvalidRunError` (saying how large it would be and what to do) when
that exceeds the limit:

- in memory (also with a Dask ``client`` and no store): every replicate's time series and
  per-replicate variables;
- streamed (``store=``, locally or on Dask): one block of replicates, and a few hundred bytes per
  block of bookkeeping;
- summary mode: one block, the ensemble statistics per record time and state, and (without
  ``store=``) the per-replicate summaries;
- :func:`~dtp_gillespie.trace`: the events up to ``max_events`` (without ``max_events``, the
  trace stops, with status ``max_events``, at the number of events the limit holds).

The limit is half the physical memory (``os.sysconf``; 8 GiB where that is unknown), or half a
lower cgroup (container, batch job) memory limit; the environment variable :data:`LIMIT_ENV` (a
number of GiB, read at each call) replaces it.
"""

import functools
import math
import os

from ._dataset import nbytes_per_replicate
from .errors import InvalidRunError

__all__ = [
    "LIMIT_ENV",
    "check_replicate_fits",
    "check_run_fits",
    "memory_limit",
    "trace_event_cap",
]

LIMIT_ENV = "DTP_GILLESPIE_MEMORY_LIMIT_GIB"
"""Environment variable replacing the default memory limit (GiB, > 0)."""

_GIB = 1 << 30
_UNKNOWN_PHYSICAL = 16 * _GIB
_GRID_BYTES_PER_TIME = 64
"""Per record time, besides the data: the grid, its Python floats handed to the engine, the
engine's copy and the time coordinate."""
_STATISTICS_BYTES_PER_VALUE = 256
"""Summary mode, per (record time, state): the exact integer sums (Python ints) of a block and of
the running total, minima, maxima, histogram bins and the final statistics."""
_BOOKKEEPING_BYTES_PER_BLOCK = 256
"""Streamed runs, per (grid point, block): its ``block_done`` flag as read back, and the Python
lists and dicts of the blocks to run and their sizes."""
_TRACE_BYTES_PER_STATE = 8
_TRACE_BYTES_PER_EVENT = 8 + 4 + 1
"""A trace row: time, channel, exposure, and a count per state."""


_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
"""Where Linux containers and batch jobs state their memory limit (cgroup v2, v1)."""


@functools.cache
def _physical_memory() -> int:
    """The machine's memory, or the container's (cgroup) limit if that is lower (read once)."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX, or not reported
        pages = page_size = -1
    physical = pages * page_size if pages > 0 and page_size > 0 else _UNKNOWN_PHYSICAL
    for path in _CGROUP_LIMITS:
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except (OSError, ValueError):
            continue
        if text.isdigit() and 0 < int(text) < physical:  # "max" or a huge value: no limit
            return int(text)
    return physical


def memory_limit() -> tuple[int, str]:
    """The memory limit in bytes, and where it comes from (for messages)."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return (
            _physical_memory() // 2,
            f"half the memory of this machine; set {LIMIT_ENV} to change it",
        )
    try:
        gib = float(raw)
    except ValueError:
        gib = math.nan
    if not (math.isfinite(gib) and gib > 0):
        raise InvalidRunError(f"{LIMIT_ENV} is {raw!r}; expected a number of GiB > 0")
    return int(gib * _GIB), f"{LIMIT_ENV}={raw}"


def _gib(nbytes: float) -> str:
    return f"{nbytes / _GIB:.3g} GiB"


def _refuse(what: str, nbytes: int, advice: str) -> None:
    limit, source = memory_limit()
    if nbytes > limit:
        raise InvalidRunError(
            f"{what} would take about {_gib(nbytes)} of memory, more than the limit of "
            f"{_gib(limit)} ({source}); {advice}"
        )


def check_replicate_fits(
    n_times: int, n_states: int, *, concentration: bool, biomarker: bool
) -> None:
    """Every mode holds at least one replicate's records: refuse a record grid too long for that."""
    one = n_times * _GRID_BYTES_PER_TIME + nbytes_per_replicate(
        n_times, n_states, concentration=concentration, biomarker=biomarker
    )
    _refuse(
        f"one replicate's records ({n_times} record times x {n_states} states)",
        one,
        "record fewer times (a larger record_every, or fewer times)",
    )


def check_run_fits(
    *,
    n_times: int,
    n_states: int,
    n_replicates: int,
    concentration: bool,
    biomarker: bool,
    n_points: int = 1,
    block_size: int,
    in_memory: bool,
    summary_only: bool,
) -> None:
    """Refuse a run (``n_points`` grid points alike, of ``n_replicates`` replicates of
    ``n_times`` x ``n_states`` records each) whose result, in its mode, would not fit in memory
    (see the module docstring).

    ``in_memory``: the result is returned rather than streamed to a store; ``block_size``:
    replicates the engine computes at once (streamed and summary runs)."""
    per_rep = nbytes_per_replicate(
        n_times, n_states, concentration=concentration, biomarker=biomarker
    )
    grid = n_times * _GRID_BYTES_PER_TIME
    shape = f"{n_times} record times x {n_states} states"
    if in_memory and not summary_only:
        total = n_points * n_replicates
        points = f"{n_points} grid points x {n_replicates} replicates" if n_points > 1 else ""
        _refuse(
            f"the result ({points or f'{total} replicates'} x {shape})",
            total * per_rep + grid,
            "pass store='run.zarr' to stream it to disk block by block, or summary_only=True to "
            "keep only per-replicate summaries and ensemble statistics",
        )
        return
    statistics = n_points * n_times * n_states * _STATISTICS_BYTES_PER_VALUE if summary_only else 0
    block = block_size * per_rep + grid + statistics
    _refuse(
        f"one block of {block_size} replicates x {shape}"
        + (" with the ensemble statistics" if summary_only else ""),
        block,
        "pass a smaller block_size" if block_size > 1 else "record fewer times",
    )
    n_blocks = n_points * -(-n_replicates // block_size)
    _refuse(
        f"the bookkeeping of {n_blocks} blocks ({n_points * n_replicates} replicates in blocks of "
        f"{block_size})",
        block + n_blocks * _BOOKKEEPING_BYTES_PER_BLOCK,
        "pass a larger block_size, or run fewer replicates",
    )
    if in_memory:  # summary mode without a store keeps every replicate's summary
        # final_count and final_biomarker are the series at one record time.
        kept = n_points * n_replicates * nbytes_per_replicate(1, n_states, biomarker=biomarker)
        _refuse(
            f"the per-replicate summaries of {n_points * n_replicates} replicates",
            block + kept,
            "pass store='run.zarr' to stream them to disk",
        )


def trace_event_cap(n_states: int, max_events: int | None) -> int:
    """The event cap of a trace: ``max_events`` if its trace fits in memory (else an error), or,
    without one, the number of events the memory limit holds."""
    row = _TRACE_BYTES_PER_EVENT + _TRACE_BYTES_PER_STATE * n_states
    # The trace's arrays grow by doubling: up to twice their length is allocated.
    if max_events is not None:
        _refuse(
            f"a trace of up to max_events={max_events} events",
            2 * (max_events + 1) * row,
            "lower max_events",
        )
        return max_events
    limit, _ = memory_limit()
    return max(1, limit // (2 * row) - 1)
