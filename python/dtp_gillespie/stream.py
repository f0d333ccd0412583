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
   a run with lineage tables (``barcodes=``, ``clones=True``) appends each block's table rows in
   replicate order first, so its blocks are marked done in order
   (:mod:`dtp_gillespie._sink_tables`);
4. once the run stops (finished, or on an error or Ctrl-C) and its lock is gone: the metadata is
   consolidated again (the ``incomplete`` attribute gone, a summary's statistics flagged done,
   a jump run's ``jump_pool_steps`` summed from its blocks' counts in ``_progress``).

A run killed at any point (SIGKILL included) therefore leaves a store in which exactly the blocks
marked done hold their final data; :func:`store_status` reads the marker, and resuming recomputes
the other blocks. Every replicate draws from its own stream (seed, global replicate index), so a
block's data does not depend on when, where or in which order it was computed: the finished store
is bit-identical to an uninterrupted run. A store written with a different model, schedule, run
options, seed or engine version is refused (:class:`~dtp_gillespie.errors.InvalidRunError`).

Sweeps (:mod:`dtp_gillespie.sweep`) use the same machinery with leading sweep dimensions: a block
is then (grid point, replicate block) and ``block_done`` has shape (n_points, n_blocks).

This module keeps the public names of streamed runs; the code is the store sink of the run
pipeline (:mod:`dtp_gillespie._sink_store`, run by :func:`dtp_gillespie._execute.execute`) and
:mod:`dtp_gillespie._store_status` (what a store holds).
"""

import os
from collections.abc import Mapping
from typing import Any

import xarray as xr

from ._checks import check_flag
from ._plan import DEFAULT_BLOCK_BYTES, default_block_size
from ._store_status import (
    INCOMPLETE_ATTR,
    PROGRESS_DIMS,
    PROGRESS_GROUP,
    StoreStatus,
    store_status,
    stored_attrs,
)
from .errors import InvalidRunError
from .simulate import simulate

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "INCOMPLETE_ATTR",
    "PROGRESS_DIMS",
    "PROGRESS_GROUP",
    "StoreStatus",
    "default_block_size",
    "simulate_to_store",
    "store_status",
    "stored_attrs",
]


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
    if store is None and client is None and not check_flag(summary_only, "summary_only"):
        raise InvalidRunError("internal error: simulate_to_store needs store or client")
    return simulate(
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
        **run,
    )
