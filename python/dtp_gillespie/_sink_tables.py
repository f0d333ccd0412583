"""Long tables in a streamed store: each block's rows appended in replicate order, resumably.

The lineage table (dim ``lineage_row``) and the clone table (dim ``clone_row``) have a length
no one knows before the run, so a store cannot give each block a region of them as it does for
the replicate-dimensioned variables. Instead the run's caller appends each block's rows, **in
plan order** (grid point, then block), whatever order the blocks finish in: a block that
finishes early waits in memory (:class:`OrderedTables`) until the blocks before it are written.
The tables' chunks are :data:`TABLE_CHUNK_ROWS` rows, whatever the block size, so a finished
store's tables are the same bytes for any block size, thread count or executor.

Order of the writes for one block (its replicate region is already written by its work):

1. ``_progress/table_rows[point, block] = (lineage rows, clone rows)``;
2. each table array grown by the block's rows, and the rows written;
3. ``_progress/block_done[point, block] = 1``.

On Dask, a block's rows do not travel back to the caller: its task writes them to a staging
group of its own, ``_progress/staged/<point>-<block>`` (:func:`stage`), and the caller copies
them into the tables when the block is next, then deletes them. The caller then holds one
block's rows at a time however the blocks finish (locally, blocks finish in order anyway).

So ``block_done`` marks a prefix of the plan's blocks, and the tables' committed rows are the
sums of ``table_rows`` over that prefix. A run stopped between 1 and 3 leaves rows of a block not
marked done at the end of the tables: :func:`trim_tables` cuts them off (on an error or Ctrl-C
right away, after a kill when the run is resumed), rewriting the last partial chunk so that no
stale row survives in its bytes.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import conventions as cv
from . import store_safety as safety

__all__ = [
    "STAGED",
    "TABLES",
    "TABLE_CHUNK_ROWS",
    "TABLE_ROWS",
    "OrderedTables",
    "create_table_progress",
    "stage",
    "table_names",
    "trim_tables",
]

TABLE_CHUNK_ROWS = 1 << 18
"""Rows per chunk of every table array (2 MiB of int64): independent of the block size."""

TABLE_ROWS = "table_rows"
"""Array of ``_progress``: rows each block added to each table, (grid_point, block, table)."""

STAGING = "staged"
"""Group of ``_progress`` holding the rows of blocks computed but not appended yet (Dask)."""

STAGED = "staged"
"""The payload of a block whose rows were staged in the store (see :func:`stage`)."""

TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (cv.LINEAGE_ROW, cv.LINEAGE_TABLE),
    (cv.CLONE_ROW, cv.CLONE_TABLE),
)
"""The tables: their row dimension and their columns (the order of ``table_rows``' last axis)."""


def table_names(root: Any) -> list[tuple[str, ...]]:
    """The columns of each table the store holds (empty tuples for a table it has not)."""
    return [tuple(name for name in names if name in root) for _, names in TABLES]


def create_table_progress(prog: Any, n_points: int, n_blocks: int, dims: Sequence[str]) -> None:
    """The ``table_rows`` array of a new store (all 0)."""
    prog.create_array(
        TABLE_ROWS,
        shape=(n_points, n_blocks, len(TABLES)),
        chunks=(1, 1, len(TABLES)),
        dtype="int64",
        fill_value=0,
        compressors=safety.checksummed_codecs(),
        dimension_names=(*dims, "table"),
    )
    prog.create_group(STAGING)
    prog[TABLE_ROWS].attrs["description"] = (
        "table_rows[p, b] = rows block b of grid point p added to the lineage table and to the "
        "clone table; the tables hold the rows of the blocks marked in block_done, in order"
    )


def _staged_name(point: int, block: int) -> str:
    return f"{point}-{block}"


def stage(prog: Any, point: int, block: int, tables: Mapping[str, npt.NDArray[Any]]) -> str:
    """Write a block's table rows to its own staging group (on the worker; blocks never share
    one) and return the payload :data:`STAGED`."""
    group = prog[STAGING].create_group(_staged_name(point, block), overwrite=True)
    for name, arr in tables.items():
        group.create_array(
            name,
            shape=arr.shape,
            chunks=(max(1, min(arr.size, TABLE_CHUNK_ROWS)),),
            dtype=arr.dtype,
            compressors=safety.checksummed_codecs(),
        )
        if arr.size:
            group[name][...] = arr
    return STAGED


def _unstage(prog: Any, point: int, block: int) -> dict[str, npt.NDArray[Any]]:
    """A staged block's rows (read back by the caller)."""
    group = prog[STAGING][_staged_name(point, block)]
    return {name: np.asarray(arr[...]) for name, arr in group.arrays()}


def _drop_staged(prog: Any, keys: Sequence[str] | None = None) -> None:
    """Delete staged rows: of the blocks ``keys``, or every block's."""
    if STAGING not in prog:
        return
    staging = prog[STAGING]
    for key in list(staging.group_keys()) if keys is None else keys:
        if key in staging:
            del staging[key]


def _done_prefix(done: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The blocks marked done that precede every block not done, in plan order (point-major):
    the only blocks whose rows the tables hold in full."""
    flat = done.reshape(-1)
    first_missing = int(np.argmin(flat)) if not flat.all() else flat.size
    prefix = np.zeros_like(flat)
    prefix[:first_missing] = True
    return prefix.reshape(done.shape)


def trim_tables(root: Any, prog: Any) -> npt.NDArray[np.bool_]:
    """Make the store's tables hold exactly the rows of its done blocks: unmark done blocks
    after the first block not done (their rows may be missing), and cut the tables to the rows
    of the rest. Returns the blocks that stay done. Idempotent; call it under the writer's
    lock."""
    done = np.asarray(prog["block_done"][...]) != 0
    keep = _done_prefix(done)
    for p, b in zip(*np.nonzero(done & ~keep), strict=True):
        prog["block_done"][p, b] = 0
    rows = np.asarray(prog[TABLE_ROWS][...])
    committed = (rows * keep[..., None]).sum(axis=(0, 1))
    for t, names in enumerate(table_names(root)):
        for name in names:
            _truncate(root[name], int(committed[t]))
    _drop_staged(prog)  # rows of blocks that will be computed again
    return keep


def _truncate(arr: Any, n: int) -> None:
    """Cut a table array to ``n`` rows, leaving no trace of the rows past ``n`` in its last
    chunk (a finished store's bytes must not depend on an interruption)."""
    if arr.shape[0] == n:
        return
    start = n - n % TABLE_CHUNK_ROWS
    kept = np.asarray(arr[start:n]) if n > start else None
    arr.resize((start,))  # drops every chunk from `start` on, the partial one too
    arr.resize((n,))
    if kept is not None:
        arr[start:n] = kept


class OrderedTables:
    """Appends blocks' table rows to a store in plan order, holding early blocks until then.

    ``pending`` is the plan's blocks not done yet, in plan order; :meth:`add` takes a block's
    tables (or :data:`STAGED`: they are in the store) in any order and writes every block that
    is next in line."""

    def __init__(self, root: Any, prog: Any, pending: Sequence[tuple[int, int]]) -> None:
        self._root = root
        self._prog = prog
        self._names = table_names(root)
        self._pending = list(reversed(pending))  # next block last: pop() is O(1)
        self._waiting: dict[tuple[int, int], Mapping[str, npt.NDArray[Any]] | str] = {}
        self._rows = [int(root[names[0]].shape[0]) if names else 0 for names in self._names]

    @property
    def finished(self) -> bool:
        """Every pending block is written."""
        return not self._pending and not self._waiting

    def add(self, point: int, block: int, tables: Mapping[str, npt.NDArray[Any]] | str) -> None:
        """Take block ``(point, block)``'s tables; write it, and every block waiting behind it,
        as soon as it is next."""
        self._waiting[point, block] = tables
        while self._pending and self._pending[-1] in self._waiting:
            key = self._pending.pop()
            rows = self._waiting.pop(key)
            if rows == STAGED:
                self._append(key, _unstage(self._prog, *key))
                _drop_staged(self._prog, [_staged_name(*key)])
            else:
                assert not isinstance(rows, str)
                self._append(key, rows)

    def _append(self, key: tuple[int, int], tables: Mapping[str, npt.NDArray[Any]]) -> None:
        counts = [len(tables[names[0]]) if names else 0 for names in self._names]
        self._prog[TABLE_ROWS][key] = np.asarray(counts, dtype=np.int64)
        for t, names in enumerate(self._names):
            n0, m = self._rows[t], counts[t]
            if not m:
                continue
            for name in names:
                arr = self._root[name]
                arr.resize((n0 + m,))
                arr[n0 : n0 + m] = np.asarray(tables[name], dtype=arr.dtype)
            self._rows[t] = n0 + m
        self._prog["block_done"][key] = 1
