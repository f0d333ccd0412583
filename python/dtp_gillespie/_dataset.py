"""Assembly of the output Dataset from the engine's arrays (the schema of docs/output.md)."""

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import conventions as cv
from .errors import DtpGillespieError

__all__ = ["build_dataset", "nbytes_per_replicate", "unwritten_arrays"]


def nbytes_per_replicate(
    n_times: int, n_states: int, *, concentration: bool = False, biomarker: bool = False
) -> int:
    """Bytes of one replicate in the output Dataset: every variable's share (the
    pharmacokinetic variables and ``biomarker`` only if asked for) and its replicate coordinate."""
    sizes = {cv.REPLICATE: 1, cv.TIME: n_times, cv.CELL_STATE: n_states}
    total = np.dtype(np.int64).itemsize  # the replicate coordinate
    for var in _outputs(concentration=concentration, biomarker=biomarker):
        total += np.dtype(var.dtype).itemsize * math.prod(sizes[d] for d in var.dims)
    return total


def unwritten_arrays(
    n_replicates: int,
    n_times: int,
    n_states: int,
    *,
    concentration: bool = False,
    biomarker: bool = False,
) -> dict[str, npt.NDArray[Any]]:
    """Engine-shaped arrays (as ``_core.simulate_ensemble`` returns them) of replicates not run
    yet: every variable holds its fill value (-1 or NaN, :attr:`Output.fill
    <dtp_gillespie.conventions.Output.fill>`). Passed to :func:`build_dataset`, they give the
    template of a streamed store without running a replicate."""
    sizes = {cv.REPLICATE: n_replicates, cv.TIME: n_times, cv.CELL_STATE: n_states}
    return {
        var.name: np.full(tuple(sizes[d] for d in var.dims), var.fill, dtype=var.dtype)
        for var in _outputs(concentration=concentration, biomarker=biomarker)
    }


def _outputs(
    *, concentration: bool, biomarker: bool, lineages: bool = False, clones: bool = False
) -> tuple[cv.Output, ...]:
    """The variables of a Dataset with or without the pharmacokinetic variables, the
    biomarker, the lineage table and the clone table, in Dataset order."""
    wanted = {
        "always": True,
        "pk": concentration,
        "biomarker": biomarker,
        "lineages": lineages,
        "clones": clones,
    }
    return tuple(var for var in cv.OUTPUTS if wanted[var.present])


def _attrs(name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"units": cv.UNITS[name], "long_name": cv.LONG_NAMES[name]}
    comment = cv.OUTPUT[name].comment if name in cv.OUTPUT else None
    if comment is not None:
        out["comment"] = comment
    return out


def build_dataset(
    *,
    states: Sequence[str],
    exposures: Sequence[str],
    times: npt.ArrayLike,
    replicate_offset: int,
    arrays: Mapping[str, npt.ArrayLike],
    model_spec: Mapping[str, Any],
    schedule_spec: Mapping[str, Any],
    run_spec: Mapping[str, Any],
    seed_attrs: Mapping[str, Any],
    rng: str,
    version: str,
    created_at: str | None = None,
    concentration: bool = False,
    biomarker: Mapping[str, Any] | None = None,
    barcode_times: npt.ArrayLike | None = None,
    clones: bool = False,
) -> xr.Dataset:
    """Build the output Dataset (docs/output.md) from the engine's arrays.

    Parameters
    ----------
    states, exposures : sequence of str
        Model state and exposure names (model order).
    times : array_like
        Record times (days).
    replicate_offset : int
        Global index of the first replicate.
    arrays : mapping
        ``count``, ``exposure``, ``extinction_time``, ``first_mutant_time``, ``stop_time``,
        ``n_events``, ``status``, ``treatment_start_time``, ``time_on_drug``, ``n_switches``,
        ``progression_time``, ``concentration``, ``auc_concentration``, ``auc_response`` and
        ``biomarker`` as returned by
        ``_core.simulate_ensemble`` (the last two only where ``concentration`` or ``biomarker``
        asks for them).
    model_spec, schedule_spec, run_spec : mapping
        Normalised specs, stored as JSON strings in the global attrs.
    seed_attrs : mapping
        ``seed`` (and ``seed_spawn_key``) as recorded by the seeding.
    rng, version : str
        PRNG name and package version.
    created_at : str, optional
        ISO timestamp; default now (UTC).
    concentration : bool, default False
        Include ``concentration``, ``auc_concentration`` and ``auc_response`` (pharmacokinetic
        runs only).
    biomarker : mapping, optional
        The model's normalised biomarker spec: include ``biomarker``, labelled with its ``name``
        and ``units``.
    barcode_times : array_like, optional
        The run tracks lineages: include the ``barcode_time`` coordinate and the lineage table
        (dim ``lineage_row``; docs/lineages.md).
    clones : bool, default False
        The run tracks clones: include the clone table (dim ``clone_row``) and the
        per-replicate ``clones_born``, ``clones_alive`` and ``first_surviving_resistant_time``.

    Returns
    -------
    xarray.Dataset
    """
    t = np.asarray(times, dtype=np.float64)
    count = np.asarray(arrays[cv.COUNT], dtype=np.int64)
    if count.ndim != 3 or count.shape[1:] != (t.size, len(states)):
        raise DtpGillespieError(
            f"internal error: engine returned count of shape {count.shape}, expected "
            f"(n_replicates, {t.size}, {len(states)})"
        )
    n_rep = count.shape[0]
    lineages = barcode_times is not None
    expected = {cv.REPLICATE: n_rep, cv.TIME: t.size, cv.CELL_STATE: len(states)}
    data: dict[str, npt.NDArray[Any]] = {}
    tables: dict[str, npt.NDArray[Any]] = {}
    for var in _outputs(
        concentration=concentration,
        biomarker=biomarker is not None,
        lineages=lineages,
        clones=clones,
    ):
        name = var.name
        if name not in arrays:
            raise DtpGillespieError(
                f"internal error: the engine returned no {name!r}; rebuild dtp_gillespie._core "
                "(pip install -e .)"
            )
        arr = np.asarray(arrays[name], dtype=var.dtype)
        if var.table:
            if arr.ndim != 1:
                raise DtpGillespieError(
                    f"internal error: engine returned {name} of shape {arr.shape}, expected 1-D"
                )
            tables[name] = arr
            continue
        shape = tuple(expected[d] for d in var.dims)
        if arr.shape != shape:
            raise DtpGillespieError(
                f"internal error: engine returned {name} of shape {arr.shape}, expected {shape}"
            )
        data[name] = arr
    layout = _Layout(
        states=tuple(states),
        exposures=tuple(exposures),
        times=t.tobytes(),
        replicate_offset=replicate_offset,
        n_replicates=n_rep,
        variables=tuple(data),
        biomarker=None if biomarker is None else (str(biomarker["name"]), str(biomarker["units"])),
    )
    # Coordinates, indexes and variable attrs come from a template of the same layout; building
    # them afresh costs about 1 ms, as much as a small simulation. Large runs (where 1 ms is
    # nothing) are not cached, so that no big replicate coordinate outlives its result.
    template = _cached_template(layout) if n_rep <= _CACHED_REPLICATES else _template(layout)
    ds = template.copy(deep=False, data=data)
    if lineages:
        ds = _with_tables(ds, tables, np.asarray(barcode_times, dtype=np.float64), layout)
    attrs: dict[str, Any] = {
        cv.ATTR_MODEL: json.dumps(model_spec),
        cv.ATTR_SCHEDULE: json.dumps(schedule_spec),
        cv.ATTR_RUN: json.dumps(run_spec),
        cv.ATTR_SEED: seed_attrs[cv.ATTR_SEED],
    }
    if cv.ATTR_SEED_SPAWN_KEY in seed_attrs:
        attrs[cv.ATTR_SEED_SPAWN_KEY] = list(seed_attrs[cv.ATTR_SEED_SPAWN_KEY])
    attrs[cv.ATTR_RNG] = rng
    attrs[cv.ATTR_VERSION] = version
    attrs[cv.ATTR_CREATED_AT] = created_at or datetime.now(UTC).isoformat(timespec="seconds")
    attrs[cv.ATTR_SCHEMA_VERSION] = cv.SCHEMA_VERSION
    ds.attrs = attrs
    return ds


class _Layout(NamedTuple):
    """Everything of an output Dataset but its data and global attrs."""

    states: tuple[str, ...]
    exposures: tuple[str, ...]
    times: bytes
    replicate_offset: int
    n_replicates: int
    variables: tuple[str, ...]
    biomarker: tuple[str, str] | None


def _read_only(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    arr.flags.writeable = False
    return arr


_CACHED_REPLICATES = 65_536


def _flags(var: cv.Output, layout: _Layout) -> dict[str, Any]:
    """``flag_values`` and ``flag_meanings`` of an integer code variable (none for the rest)."""
    if var.flags is None:
        return {}
    meanings = {
        "exposures": list(layout.exposures),
        "states": list(layout.states),
        "status": list(cv.STATUS_CODES),
    }[var.flags]
    values = (
        np.array(list(cv.STATUS_CODES.values()), dtype=var.dtype)
        if var.flags == "status"
        else np.arange(len(meanings), dtype=var.dtype)
    )
    return {"flag_values": _read_only(values), "flag_meanings": " ".join(meanings)}


def _with_tables(
    ds: xr.Dataset,
    tables: Mapping[str, npt.NDArray[Any]],
    barcode_times: npt.NDArray[np.float64],
    layout: _Layout,
) -> xr.Dataset:
    """The run's Dataset with the ``barcode_time`` coordinate and the lineage (and clone)
    tables, whose lengths differ from run to run (so they are not part of the cached
    template)."""
    variables: dict[str, Any] = {}
    for name, arr in tables.items():
        var = cv.OUTPUT[name]
        variables[name] = (var.dims, arr, {**_attrs(name), **_flags(var, layout)})
    coords = {cv.BARCODE_TIME: (cv.BARCODE_TIME, barcode_times.copy(), _attrs(cv.BARCODE_TIME))}
    out = ds.assign(variables)
    # Dataset order is the order of the output table (the per-replicate clone tallies come last);
    # the coordinate goes on after the selection, which keeps only coordinates of its variables.
    return out[[v for v in cv.VARIABLES if v in out.data_vars]].assign_coords(coords)


def _template(layout: _Layout) -> xr.Dataset:
    """A Dataset of `layout` whose data are zero-stride placeholders (no memory), for
    ``copy(deep=False, data=...)``. Copies share its coordinates and indexes, which are made
    read-only here (pandas before 3 hands out an index's own array, writable), and get their own
    attrs dicts; the arrays inside attrs are read-only too, so that nothing a user does to one
    result reaches the next."""
    t = np.frombuffer(layout.times, dtype=np.float64)
    expected = {
        cv.REPLICATE: layout.n_replicates,
        cv.TIME: t.size,
        cv.CELL_STATE: len(layout.states),
    }
    data_vars: dict[str, Any] = {}
    for name in layout.variables:
        var = cv.OUTPUT[name]
        dims = var.dims
        placeholder = np.broadcast_to(
            np.zeros((), dtype=var.dtype), tuple(expected[d] for d in dims)
        )
        attrs = {**_attrs(name), **_flags(var, layout)}
        if name == cv.BIOMARKER and layout.biomarker is not None:
            marker_name, units = layout.biomarker
            attrs["units"] = units
            attrs["long_name"] = f"{marker_name} ({cv.LONG_NAMES[cv.BIOMARKER]})"
        data_vars[name] = (dims, placeholder, attrs)
    first = layout.replicate_offset
    coords = {
        cv.REPLICATE: (
            cv.REPLICATE,
            np.arange(first, first + layout.n_replicates, dtype=np.int64),
            _attrs(cv.REPLICATE),
        ),
        cv.TIME: (cv.TIME, t.copy(), _attrs(cv.TIME)),
        cv.CELL_STATE: (
            cv.CELL_STATE,
            np.array(list(layout.states), dtype=object),
            _attrs(cv.CELL_STATE),
        ),
    }
    ds = xr.Dataset(data_vars=data_vars, coords=coords)
    for index in ds.indexes.values():
        index.values.flags.writeable = False
    return ds


_cached_template = lru_cache(maxsize=16)(_template)
