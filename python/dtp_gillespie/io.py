"""Zarr storage of run outputs.

The Dataset :func:`~dtp_gillespie.simulate` returns is built to survive a plain
``ds.to_zarr(path)`` / ``xr.open_zarr(path)`` round trip: ``count`` and ``n_events`` stay int64
(no ``_FillValue`` attribute, so xarray never masks them to float), ``exposure`` and ``status``
stay int8, times float64, ``cell_state`` is an object-dtype str coordinate (stored as zarr 3
variable-length UTF-8, which has a stable spec), and every attribute is JSON-able. Chunks carry a
CRC32C checksum, so a corrupted chunk fails to read instead of changing the data.
:func:`open_run` opens without dask and without CF time decoding, and gives ``cell_state`` back
as an object-dtype str coordinate; it warns (:class:`~dtp_gillespie.errors.IncompleteStoreWarning`)
when a store is not finished: a streamed run still being written or interrupted, a
:func:`write_run` interrupted, or the CLI's store of one group per schedule whose schedules are not
all written. Each carries the ``incomplete`` attribute until it is finished: :func:`write_run`
writes it with the group's attributes, before the first chunk, and removes it after the last
(its chunks not written read ``status`` -1, ``count`` -1 and times NaN, zarr fill values that
leave the int64 variables int64).
"""

import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import xarray as xr

from . import conventions as cv
from ._store_status import INCOMPLETE_ATTR, WRITE_RUN_NOTE, has_unwritten_fill, unwritten_fill
from .errors import IncompleteStoreWarning, InvalidRunError
from .store_safety import (
    GROUPS_ATTR,
    check_store_path,
    checksummed_codecs,
    delete_run_store,
    describe,
    drop_consolidated,
    exists,
    is_blank,
    is_run,
    open_group,
    run_groups,
    storage_kwargs,
)
from .summary import FINAL_BIOMARKER, FINAL_COUNT, STATISTICS

__all__ = ["open_run", "refresh_metadata", "write_run"]


def open_run(
    path: str | os.PathLike[str],
    *,
    group: str | None = None,
    load: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.Dataset | xr.DataTree:
    """Open a run stored with ``ds.to_zarr`` (or :func:`write_run`), or every run of a store.

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
    xarray.Dataset or xarray.DataTree
        The run at ``group`` (or at the root). Without ``group``, a store whose root holds no run
        but whose groups do (the CLI's one group per schedule) gives a DataTree with one node per
        run, each opened as here (``tree["continuous"].to_dataset()``).

    Raises
    ------
    InvalidRunError
        ``group`` is not a group of the store (the message lists the groups holding runs).

    Warns
    -----
    IncompleteStoreWarning
        The store is not finished: a streamed run still being written or interrupted (its
        replicates not run yet read ``status`` -1 (``not_run``) and ``count`` -1), a
        :func:`write_run` interrupted (its chunks not written read the same), or, for the
        DataTree, the CLI's store of one group per schedule whose schedules are not all written
        (the warning names them and the command that finishes them).
    """
    path = check_store_path(path)
    root = _open_root(path, storage_options)
    if root is not None and not group and not is_run(dict(root.attrs)):
        groups = run_groups(root)
        if groups:
            warn_if_unfinished(path, dict(root.attrs))
            nodes: dict[str, Any] = {"/": xr.Dataset(attrs=dict(root.attrs))}
            for g in groups:
                nodes[g] = _open_one(path, g, load, storage_options)
            return xr.DataTree.from_dict(nodes)
    if root is not None and group:
        warn_if_unfinished(path, dict(root.attrs))  # the CLI's store, its schedules not all run
    if root is not None and group and not _has_group(root, group):
        listed = ", ".join(repr(g) for g in run_groups(root)) or "none"
        raise InvalidRunError(f"{path} has no group {group!r}; its groups holding runs: {listed}")
    return _open_one(path, group, load, storage_options)


def _open_root(path: str, storage_options: Mapping[str, Any] | None) -> Any:
    """The store's root group, or None if it is not a zarr store (xr.open_zarr then says why)."""
    try:
        return open_group(path, None, "r", storage_options)
    except Exception:
        return None


def _has_group(root: Any, group: str) -> bool:
    import zarr

    try:
        return isinstance(root[group.strip("/")], zarr.Group)
    except KeyError:
        return False


def _open_one(
    path: str, group: str | None, load: bool, storage_options: Mapping[str, Any] | None
) -> xr.Dataset:
    """One run: lazily, with its canonical dtypes and variable order; warns if unfinished."""
    kwargs = storage_kwargs(storage_options)
    # The live metadata, not the root's consolidated copy: that one lags while a run writes.
    try:
        ds = xr.open_zarr(
            path,
            group=group,
            chunks=None,
            consolidated=False,
            decode_times=False,
            decode_timedelta=False,
            mask_and_scale=True,
            **kwargs,
        )
    except FileNotFoundError as exc:  # zarr's error for a path that is no zarr group
        raise InvalidRunError(f"{describe(path, group)} is not a zarr store: {exc}") from None
    if INCOMPLETE_ATTR in ds.attrs:
        note = ds.attrs[INCOMPLETE_ATTR]
        where = describe(path, group)
        if cv.STATUS in ds and note != WRITE_RUN_NOTE:
            # (write_run writes one variable after the other: its status says nothing of them.)
            not_run = int((ds[cv.STATUS] == cv.STATUS_NOT_RUN).sum())
            where += f": {not_run} of {ds[cv.STATUS].size} replicates not run yet."
        else:
            where += ":"
        warnings.warn(IncompleteStoreWarning(f"{where} {note}"), stacklevel=3)
    if cv.CELL_STATE in ds.coords and ds[cv.CELL_STATE].dtype != object:
        ds = ds.assign_coords({cv.CELL_STATE: ds[cv.CELL_STATE].astype(object)})
    # Canonical variable order (zarr lists arrays alphabetically).
    order = [
        v for v in (*cv.VARIABLES, FINAL_COUNT, FINAL_BIOMARKER, *STATISTICS) if v in ds.data_vars
    ]
    out: xr.Dataset = ds[order + [v for v in ds.data_vars if v not in order]]
    # A selection keeps only the coordinates of its variables: barcode_time has none.
    out = out.assign_coords({c: ds[c] for c in ds.coords if c not in out.coords})
    return out.load() if load else out


def warn_if_unfinished(path: str, root_attrs: Mapping[str, Any], stacklevel: int = 2) -> None:
    """Warn (:class:`~dtp_gillespie.errors.IncompleteStoreWarning`) if a store's root, which
    holds runs in its groups, is marked ``incomplete`` (the CLI's store of one group per schedule
    before its last schedule is written); ``stacklevel`` as in :func:`warnings.warn`, counted
    from the caller."""
    if INCOMPLETE_ATTR in root_attrs:
        warnings.warn(
            IncompleteStoreWarning(f"{path}: {root_attrs[INCOMPLETE_ATTR]}"),
            stacklevel=stacklevel + 1,
        )


def mark_incomplete(path: str, note: str, storage_options: Mapping[str, Any] | None = None) -> None:
    """Mark a store's root, which holds (or will hold) runs in its groups, as not finished:
    attribute ``incomplete`` = ``note`` (the root group is created if there is none yet).

    Raises
    ------
    InvalidRunError
        The root holds a run itself (its attributes are the run's).
    """
    root = open_group(path, None, "a", storage_options)
    if is_run(dict(root.attrs)):
        raise InvalidRunError(
            f"{path} holds a run at its root; a config of named schedules writes one group per "
            "schedule into a store of its own: choose another --out"
        )
    root.attrs[INCOMPLETE_ATTR] = note


def mark_complete(
    path: str, group: str | None = None, storage_options: Mapping[str, Any] | None = None
) -> None:
    """Remove the ``incomplete`` attribute of a store's root (or of ``group``), then
    consolidate the store's metadata (:func:`refresh_metadata`)."""
    attrs = open_group(path, group, "r+", storage_options).attrs
    if INCOMPLETE_ATTR in attrs:
        del attrs[INCOMPLETE_ATTR]
    refresh_metadata(path, storage_options)


def refresh_metadata(path: str, storage_options: Mapping[str, Any] | None = None) -> None:
    """After a write: a root holding runs in its groups lists them (attribute ``groups``), and
    the store's metadata is consolidated at the root, so that plain ``xr.open_zarr`` and
    ``xr.open_datatree`` read it in one request and without a warning."""
    import zarr

    root = open_group(path, None, "r+", storage_options)
    if not is_run(dict(root.attrs)):
        groups = run_groups(root)
        if groups and root.attrs.get(GROUPS_ATTR) != groups:
            root.attrs[GROUPS_ATTR] = groups
    with warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is not in the v3 spec; xarray uses it anyway.
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        # A temporary file left by a killed writer (zarr's "<name>.<uuid>.partial") is no node.
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr")
        zarr.consolidate_metadata(root.store)


def _holds_something(path: str, group: str | None) -> bool:
    """Whether the zarr group at ``path``/``group`` is not blank (it has attributes, arrays or
    groups); a place that is no zarr group is left to ``to_zarr``'s own checks."""
    try:
        node = open_group(path, group, "r", None)
    except Exception:
        return False
    return not is_blank(node)


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
        dtp-gillespie run (anything else is refused: docs/large-ensembles.md, "What
        dtp-gillespie deletes"); ``"a"`` adds the run to a group of an existing store that
        holds nothing yet (a group with attributes, arrays or groups is refused).
    replicates_per_chunk : int, optional
        Replicates per chunk of the replicate-dimensioned variables; default chooses chunks of
        about 8 MB of ``count``.

    Notes
    -----
    Until its last chunk is written the group carries the attribute ``incomplete`` (written
    with the group's attributes, before any chunk), so that a write killed part way is never
    read as finished data: :func:`open_run` warns, and the chunks not written read ``status``
    -1 (``not_run``), counts -1 and times NaN (the zarr fill values of the replicate-dimensioned
    variables). A ``ds`` that is itself marked ``incomplete`` keeps its mark.
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
        if cv.REPLICATE in var.dims and has_unwritten_fill(var.dtype):
            # A zarr fill value, not a CF _FillValue: int64 stays int64 in plain xarray.
            encoding.setdefault(str(name), {})["fill_value"] = unwritten_fill(var.dtype)
    if mode != "a":
        for name in ds.variables:
            encoding.setdefault(str(name), {})["compressors"] = checksummed_codecs()
    path = check_store_path(path)
    if mode == "w":
        delete_run_store(path, group=group)
        mode = "w-"
    # xarray writes the group's attributes before any array, so the mark precedes every chunk.
    marked = INCOMPLETE_ATTR not in ds.attrs
    out = ds.copy(deep=False)
    out.attrs = {**ds.attrs, INCOMPLETE_ATTR: WRITE_RUN_NOTE} if marked else dict(ds.attrs)
    if mode == "a" and exists(path, group, None) and _holds_something(path, group):
        raise InvalidRunError(
            f"write_run(mode='a') adds a run where there is none yet, but "
            f"{describe(path, group)} already holds attributes, arrays or groups; pass mode='w' "
            "to replace a dtp-gillespie run there, or another group"
        )
    store_existed = exists(path, None, None)
    if mode == "a" or not exists(path, group, None):  # (an existing place "w-" refuses)
        # A plain reader must not read the root's old consolidated copy over the new chunks.
        drop_consolidated(path, None)
    try:
        with warnings.catch_warnings():
            # zarr 3 warns that consolidated metadata is not in the v3 spec; xarray uses it
            # anyway.
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            out.to_zarr(path, group=group, mode=mode, encoding=encoding, consolidated=False)
    except BaseException:
        if store_existed:
            # Consolidated again, as the store now stands (a group written in part carries its
            # `incomplete` mark), so that plain readers of the other groups need no fallback.
            refresh_metadata(path)
        raise
    if marked:
        mark_complete(path, group)
    else:
        refresh_metadata(path)
