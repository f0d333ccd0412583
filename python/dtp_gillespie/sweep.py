"""Parameter sweeps: one run per point of a grid over model and schedule parameters.

Parameter paths
---------------
A grid key names one value of the model or schedule spec (the dicts of :meth:`Model.to_dict` and
:meth:`Schedule.to_dict`, which accept everything ``from_dict`` does):

- ``"schedule.off"``, ``"schedule.on"``, ``"schedule.delay"``: a key of the schedule spec;
- ``"model.division.S"``: the division rate of S (one number for every exposure);
- ``"model.death.S.on"``: the death rate of S under exposure ``on`` (a scalar rate is first
  expanded into a table over the exposures);
- ``"model.mutation[0].probability"``, ``"model.switch[1].rate.off"``: ``[i]`` indexes a list.

Dots separate dict keys, ``[i]`` indexes lists. The path must exist in the spec (a typo is an
error, never a silently ignored parameter), except that the last key may be new in a dict.

Two grid paths may not overlap: one that names a value inside another's (``"model.death.S"`` and
``"model.death.S.on"``: both set the death rate of S under ``on``, the one set last overwrites
the other, and a coordinate would label runs with a value they did not use), or two spellings of
one value (``"model.mutation[0].probability"`` and ``"model.mutation.[0].probability"``), is an
error naming both. Paths are compared by their keys and indices, not their characters:
``"model.death.S"`` and ``"model.death.SP"`` are siblings and may be swept together.

Seeding
-------
Grid points are numbered in C order (the last grid key varies fastest). Point ``k`` uses
``SeedSequence(seed, spawn_key=seed_spawn_key + (k,))``, i.e. ``root.spawn(n_points)[k]``: every
point has its own independent streams, and the result does not depend on how the grid is split
or run. The root seed is recorded in the attrs (``seed``, ``seed_spawn_key``) together with
``sweep`` (JSON: the grid and the seeding rule).
"""

import copy
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from . import conventions as cv
from ._checks import check_flag
from ._options import Prepared, RunOptions, bind, coerce_model, summary_prepared
from ._plan import make_plan, sweep_provenance
from ._run import run_plan
from ._seeding import SeedLike, spawn
from ._store_status import seed_for_resume
from .errors import InvalidRunError
from .model import Model
from .schedule import Schedule

__all__ = ["set_path", "sweep", "sweep_points"]

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse(path: str) -> tuple[str, list[str | int]]:
    if not isinstance(path, str) or not path:
        raise InvalidRunError(f"sweep parameter {path!r} is not a path like 'schedule.off'")
    parts: list[str | int] = []
    pos = 0
    text = path
    while pos < len(text):
        if text[pos] == ".":
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InvalidRunError(f"sweep parameter {path!r}: cannot parse at {text[pos:]!r}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if len(parts) < 2 or parts[0] not in ("model", "schedule"):
        raise InvalidRunError(
            f"sweep parameter {path!r} must start with 'model.' or 'schedule.' and name a value, "
            "e.g. 'schedule.off' or 'model.mutation[0].probability'"
        )
    return str(parts[0]), parts[1:]


def _check_disjoint(parsed: Mapping[str, tuple[str, list[str | int]]]) -> None:
    """No grid path names a value inside another's, or the same value in another spelling:
    the broader one would overwrite the narrower at every point (whichever is set last wins),
    and the coordinates would label runs with values they did not use."""
    keys = {path: (which, *parts) for path, (which, parts) in parsed.items()}
    paths = list(keys)
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            ka, kb = keys[a], keys[b]
            if ka == kb:
                raise InvalidRunError(
                    f"grid paths {a!r} and {b!r} name the same value; sweep it under one path"
                )
            broad, narrow = (a, b) if len(ka) < len(kb) else (b, a)
            if keys[narrow][: len(keys[broad])] == keys[broad]:
                raise InvalidRunError(
                    f"grid path {broad!r} contains grid path {narrow!r}: both set "
                    f"{narrow!r} at every point (the one set last overwrites the other), so "
                    "a coordinate would label runs with a value they did not use; sweep one "
                    f"of them, or sweep the whole value of {broad!r} as a list of tables"
                )


def set_path(spec: dict[str, Any], parts: Sequence[str | int], value: Any, path: str) -> None:
    """Set one value of a spec dict in place (see the module docstring for the syntax)."""
    node: Any = spec
    for i, key in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                raise InvalidRunError(f"sweep parameter {path!r}: no item [{key}] in {node!r}")
        elif not isinstance(node, dict):
            raise InvalidRunError(f"sweep parameter {path!r}: {key!r} indexes {node!r}")
        elif key not in node and not last:
            raise InvalidRunError(
                f"sweep parameter {path!r}: no key {key!r}; keys are {sorted(node)}"
            )
        if last:
            node[key] = value
            return
        child = node[key]
        if not isinstance(child, dict | list) and not isinstance(parts[i + 1], int):
            # A scalar rate or probability: expand to a table over the exposures.
            exposures = spec.get("exposures", ["off", "on"])
            child = {e: child for e in exposures}
            node[key] = child
        node = child


def _check_distinct(path: str, values: Sequence[Any]) -> None:
    """A grid value given twice would run the same point twice under two labels that a
    coordinate cannot tell apart (1 and 1.0 are the same value)."""
    seen: dict[Any, int] = {}
    for i, v in enumerate(values):
        v = v.item() if isinstance(v, np.generic) else v
        try:
            key = (0, v) if not isinstance(v, float) or not math.isnan(v) else (1, "nan")
            hash(key)
        except TypeError:  # a list or table value: compare its canonical JSON
            key = (2, json.dumps(v, sort_keys=True, default=repr))
        if key in seen:
            j = seen[key]
            raise InvalidRunError(
                f"grid[{path!r}] holds the same value twice: item {j} ({values[j]!r}) and item "
                f"{i} ({values[i]!r}); grid values must be distinct"
            )
        seen[key] = i


def _coord(values: Sequence[Any]) -> np.ndarray:
    if all(isinstance(v, bool | int | float | str | np.generic) for v in values):
        return np.asarray(values)
    return np.asarray([json.dumps(v) for v in values], dtype=object)


def sweep_points(
    model: Model | Mapping[str, Any],
    schedule: Schedule | Mapping[str, Any] | str,
    grid: Mapping[str, Sequence[Any]],
) -> list[tuple[tuple[int, ...], dict[str, Any], dict[str, Any]]]:
    """The (grid index, model spec, schedule spec) of every point, in C order."""
    base_model = (model if isinstance(model, Model) else Model.from_dict(model)).to_dict()
    base_sched = Schedule.coerce(schedule).to_dict()
    if not isinstance(grid, Mapping) or not grid:
        raise InvalidRunError("grid must be a non-empty {parameter path: list of values}")
    parsed = {path: _parse(path) for path in grid}
    _check_disjoint(parsed)
    values = {}
    for path, vals in grid.items():
        if isinstance(vals, str | bytes) or not isinstance(vals, Sequence | np.ndarray):
            raise InvalidRunError(f"grid[{path!r}] is {vals!r}; expected a list of values")
        if len(vals) == 0:
            raise InvalidRunError(f"grid[{path!r}] is empty")
        values[path] = list(vals)
        _check_distinct(path, values[path])
    out = []
    for idx in itertools.product(*(range(len(v)) for v in values.values())):
        m, s = copy.deepcopy(base_model), copy.deepcopy(base_sched)
        for (path, (which, parts)), i in zip(parsed.items(), idx, strict=True):
            v = values[path][i]
            v = v.item() if isinstance(v, np.generic) else v
            set_path(m if which == "model" else s, parts, v, path)
        out.append((idx, m, s))
    return out


def sweep(
    model: Model | Mapping[str, Any],
    schedule: Schedule | Mapping[str, Any] | str,
    grid: Mapping[str, Sequence[Any]],
    *,
    seed: SeedLike = None,
    store: str | None = None,
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
    """Simulate every point of a parameter grid; one Dataset with the grid as leading dimensions.

    Parameters
    ----------
    model, schedule
        The base model and schedule (as for :func:`~dtp_gillespie.simulate`).
    grid : dict
        ``{parameter path: list of values}``, e.g. ``{"schedule.off": [7, 14, 28],
        "model.mutation[0].probability": [1e-5, 1e-4]}`` (syntax in :mod:`dtp_gillespie.sweep`).
        Each path becomes a dimension (named by the path) with the values as its coordinate
        (non-scalar values are stored as JSON strings).
    seed : int, SeedSequence, Generator or None
        Root seed; point ``k`` (C order) uses ``SeedSequence(seed, spawn_key=(..., k))``.
    store, group, resume, overwrite, block_size, progress, client, storage_options
        As for :func:`~dtp_gillespie.simulate`: stream into a zarr store (resumable), run blocks
        on a Dask client.
    summary_only : bool, default False
        Per-replicate summaries and ensemble statistics only, per grid point (as for
        :func:`~dtp_gillespie.simulate`).
    **run
        The run options of :func:`~dtp_gillespie.simulate` (``initial``, ``t_end``,
        ``record_every`` or ``times``, ``n_replicates``, caps, ``progression``, ``n_threads``).

    Returns
    -------
    xarray.Dataset
        Dims ``(*grid, replicate, time, cell_state)``. Attrs: the base ``model`` and
        ``schedule``, ``run``, the root ``seed``, and ``sweep`` (JSON with ``grid``, ``dims`` and
        ``seeding``).
    """
    if run.get("replicate_offset"):
        raise InvalidRunError("sweep does not take replicate_offset")
    summary_only = check_flag(summary_only, "summary_only")
    seed, seed_drawn = seed_for_resume(
        seed, store, group=group, storage_options=storage_options, resume=resume
    )
    points = sweep_points(model, schedule, grid)
    options = RunOptions.build(seed=seed, **run)
    if options.lineages is not None:
        # A table's rows have no place along the grid dimensions (yet): refuse, never drop them.
        raise InvalidRunError(
            "sweep does not track lineages (barcodes=, barcode_times=, clones=): the lineage "
            "and clone tables are long tables with no grid dimensions; run dg.simulate for each "
            "grid point instead"
        )
    root = options.seed
    preps: list[Prepared] = []
    for k, (_, m, s) in enumerate(points):
        prep = bind(coerce_model(m), Schedule.coerce(s), options, spawn(root, k))
        preps.append(summary_prepared(prep) if summary_only else prep)
    dims = list(grid)
    coords = {d: _coord(list(v)) for d, v in grid.items()}
    run_spec = dict(preps[0].run_spec)
    run_spec.pop(cv.ATTR_SEED_SPAWN_KEY, None)
    run_spec.update(root.attrs)
    description = {
        "dims": dims,
        "grid": {d: [_jsonable(x) for x in v] for d, v in grid.items()},
        "seeding": (
            "grid point k (C order over dims) uses numpy.random.SeedSequence(seed, "
            "spawn_key=seed_spawn_key + [k])"
        ),
    }
    attrs = sweep_provenance(
        coerce_model(model).to_dict(),
        Schedule.coerce(schedule).to_dict(),
        run_spec,
        root.attrs,
        description,
    )
    plan = make_plan(
        preps,
        block_size=block_size,
        sweep_dims=dims,
        sweep_coords=coords,
        sweep_attrs=attrs,
        summary_only=summary_only,
    )
    return run_plan(
        plan,
        store=store,
        group=group,
        resume=resume,
        overwrite=overwrite,
        storage_options=storage_options,
        client=client,
        progress=progress,
        seed_drawn=seed_drawn,
    )


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x
