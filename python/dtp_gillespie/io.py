"""Zarr storage of run outputs.

The Dataset :func:`~dtp_gillespie.simulate` returns is built to survive a plain
``ds.to_zarr(path)`` / ``xr.open_zarr(path)`` round trip: ``count`` and ``n_events`` stay int64
(no ``_FillValue`` attribute, so xarray never masks them to float), ``exposure`` and ``status``
stay int8, times float64, ``cell_state`` is an object-dtype str coordinate (stored as zarr 3
variable-length UTF-8, which has a stable spec), and every attribute is JSON-able. Chunks carry a
CRC32C checksum, so a corrupted chunk fails to read instead of changing the data.
:func:`open_run` opens without dask and without CF time decoding, and gives ``cell_state`` back
as an object-dtype str coordinate; it warns (:class:`~dtp_gillespie.errors.IncompleteStoreWarning`)
when a streamed store's run is not finished.
"""

import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import xarray as xr

from . import conventions as cv
from .errors import IncompleteStoreWarning
from .store_safety import check_store_path, checksummed_codecs, delete_run_store, describe
from .summary import FINAL_BIOMARKER, FINAL_COUNT, STATISTICS

__all__ = ["open_run", "write_run"]


def open_run(
    path: str | os.PathLike[str],
    *,
    group: str | None = None,
    load: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Open a run stored with ``ds.to_zarr`` (or :func:`write_run`).

    Parameters
    ----------
    path : str or path-like
        The zarr store.
    group : str, optional
        Group inside the store (the CLI writes one group per named schedule).
    load : bool, default False
        Load every variable into memory (otherwise they are read lazily, without dask).
    storage_options : dict, optional
        fsspec options for a URL.

    Returns
    -------
    xarray.Dataset

    Warns
    -----
    IncompleteStoreWarning
        The store is a streamed run that is not finished (still being written, or interrupted):
        its replicates not run yet read ``status`` -1 (``not_run``) and ``count`` -1.
    """
    from .stream import INCOMPLETE_ATTR

    path = check_store_path(path)
    kwargs: dict[str, Any] = {}
    if storage_options:
        kwargs["storage_options"] = dict(storage_options)
    with warnings.catch_warnings():
        # Stores written without consolidated metadata open fine, just slower: not worth a warning.
        warnings.filterwarnings(
            "ignore", message=".*consolidated metadata.*", category=RuntimeWarning
        )
        ds = xr.open_zarr(
            path,
            group=group,
            chunks=None,
            consolidated=None,
            decode_times=False,
            decode_timedelta=False,
            mask_and_scale=True,
            **kwargs,
        )
    if INCOMPLETE_ATTR in ds.attrs:
        not_run = int((ds[cv.STATUS] == cv.STATUS_NOT_RUN).sum()) if cv.STATUS in ds else 0
        warnings.warn(
            IncompleteStoreWarning(
                f"{describe(path, group)}: {not_run} of "
                f"{ds[cv.STATUS].size if cv.STATUS in ds else 0} replicates not run yet. "
                f"{ds.attrs[INCOMPLETE_ATTR]}"
            ),
            stacklevel=2,
        )
    if cv.CELL_STATE in ds.coords and ds[cv.CELL_STATE].dtype != object:
        ds = ds.assign_coords({cv.CELL_STATE: ds[cv.CELL_STATE].astype(object)})
    # Canonical variable order (zarr lists arrays alphabetically).
    order = [
        v for v in (*cv.VARIABLES, FINAL_COUNT, FINAL_BIOMARKER, *STATISTICS) if v in ds.data_vars
    ]
    ds = ds[order + [v for v in ds.data_vars if v not in order]]
    if load:
        ds = ds.load()
    return ds


def write_run(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    group: str | None = None,
    mode: Literal["w", "w-", "a"] = "w-",
    replicates_per_chunk: int | None = None,
) -> None:
    """Write a run to a zarr store (``count`` chunked by blocks of replicates).

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`~dtp_gillespie.simulate`.
    path : str or path-like
        The zarr store.
    group : str, optional
        Group inside the store.
    mode : {"w-", "w", "a"}, default "w-"
        ``"w-"`` refuses to overwrite an existing group; ``"w"`` overwrites one that holds a
        dtp-gillespie run (anything else is refused: README, "What dtp-gillespie deletes").
    replicates_per_chunk : int, optional
        Replicates per chunk of the replicate-dimensioned variables; default chooses chunks of
        about 8 MB of ``count``.
    """
    n_rep = ds.sizes.get(cv.REPLICATE, 1)
    if replicates_per_chunk is None:
        per_rep = 8 * max(1, ds.sizes.get(cv.TIME, 1) * ds.sizes.get(cv.CELL_STATE, 1))
        replicates_per_chunk = max(1, min(n_rep, (8 << 20) // per_rep))
    k = max(1, min(int(replicates_per_chunk), max(1, n_rep)))
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.data_vars.items():
        if var.dims and var.dims[0] == cv.REPLICATE:
            chunks = (k, *(ds.sizes[d] for d in var.dims[1:]))
            encoding[str(name)] = {"chunks": tuple(max(1, c) for c in chunks)}
    if mode != "a":
        for name in ds.variables:
            encoding.setdefault(str(name), {})["compressors"] = checksummed_codecs()
    path = check_store_path(path)
    if mode == "w":
        delete_run_store(path, group=group)
        mode = "w-"
    with warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is not in the v3 spec; xarray uses it anyway.
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(path, group=group, mode=mode, encoding=encoding, consolidated=None)
