"""What a streamed store holds: its layout constants, :func:`store_status`, its run's attributes
and the identity check a resumed store must pass (the store layout is described in
:mod:`dtp_gillespie.stream`)."""

import itertools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import conventions as cv
from . import store_safety as safety
from ._plan import replicates_in_blocks
from ._seeding import SeedLike, seed_from_attrs
from .errors import InvalidRunError
from .store_safety import open_group

__all__ = [
    "INCOMPLETE_ATTR",
    "INCOMPLETE_NOTE",
    "PROGRESS_DIMS",
    "PROGRESS_GROUP",
    "WRITE_RUN_NOTE",
    "StoreStatus",
    "check_identity",
    "has_unwritten_fill",
    "join",
    "seed_for_resume",
    "store_status",
    "stored_attrs",
    "stored_seed",
    "unfinished_schedules_note",
    "unwritten_fill",
]

PROGRESS_GROUP = "_progress"
"""Child group (of the run's group) holding the ``block_done`` marker."""

PROGRESS_DIMS = ("grid_point", "block")
"""Dimension names of ``_progress/block_done``."""

INCOMPLETE_ATTR = cv.ATTR_INCOMPLETE
"""Global attribute of a store that is not finished (a streamed run, a ``write_run``, the CLI's
root of one group per schedule); removed once it is."""

INCOMPLETE_NOTE = (
    "This streamed run is not finished (still being written, or interrupted): replicates whose "
    f"status is {cv.STATUS_NOT_RUN} (not_run) hold no data yet (count -1, times NaN); "
    "dtp_gillespie.store_status says which blocks are done, and the same call with resume=True "
    "finishes the run"
)

WRITE_RUN_NOTE = "This store was being written by write_run and was interrupted; write it again"
"""The ``incomplete`` attribute of a store while :func:`~dtp_gillespie.write_run` writes it."""


def unfinished_schedules_note(names: Sequence[str], command: str | None) -> str:
    """The ``incomplete`` attribute of the CLI's root (one group per schedule) while its
    schedules are written: the schedules ``names`` are not finished, ``command`` finishes them."""
    listed = ", ".join(repr(n) for n in names)
    finish = command or "the same dtp-gillespie run command with --resume"
    return (
        "This store holds one group per schedule and is not finished (interrupted, or still "
        f"being written): schedules not written yet: {listed}; finish them with: {finish}"
    )


def unwritten_fill(dtype: np.dtype[Any]) -> Any:
    """What an unwritten replicate reads as: -1 for integers (no count, status or tally is
    negative; status -1 is ``not_run``), NaN for floats."""
    if has_unwritten_fill(dtype):
        return -1 if np.dtype(dtype).kind == "i" else np.nan
    raise InvalidRunError(f"internal error: no 'not run' fill value for dtype {dtype}")


def has_unwritten_fill(dtype: np.dtype[Any]) -> bool:
    """Whether :func:`unwritten_fill` has a value for ``dtype``: signed integers and floats (not
    bool, unsigned, complex, str, datetime64 or timedelta64)."""
    return np.dtype(dtype).kind in ("i", "f")


_IDENTITY_ATTRS = (
    cv.ATTR_MODEL,
    cv.ATTR_SCHEDULE,
    cv.ATTR_RUN,
    cv.ATTR_SEED,
    cv.ATTR_SEED_SPAWN_KEY,
    cv.ATTR_RNG,
    cv.ATTR_VERSION,
    cv.ATTR_SCHEMA_VERSION,
    "sweep",
)
"""Attributes that must match for a store to be resumed."""


@dataclass(frozen=True)
class StoreStatus:
    """What a (possibly interrupted) streamed store holds.

    Attributes
    ----------
    initialised : bool
        The template and the progress marker are written (the store is resumable).
    block_size, n_blocks, n_points, n_replicates : int
        Block layout (0 when not initialised).
    done : numpy.ndarray of bool
        ``(n_points, n_blocks)``: which blocks hold their final data.
    statistics_pending : bool
        A summary store whose ensemble statistics are not written yet (they are written once
        every block is done; ``resume=True`` writes them).
    corrupt : tuple of str
        With ``verify=True``: the chunks whose CRC32C checksum does not match their bytes (or
        that cannot be decoded), as ``"<array> chunk <index>"``.
    """

    initialised: bool
    block_size: int
    n_blocks: int
    n_points: int
    n_replicates: int
    done: npt.NDArray[np.bool_]
    statistics_pending: bool = False
    corrupt: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every block is written, for a summary store its statistics too, and no chunk found
        corrupt."""
        return (
            self.initialised
            and bool(self.done.all())
            and not self.statistics_pending
            and not self.corrupt
        )

    @property
    def replicates_done(self) -> int:
        """Replicates (summed over grid points) whose data are final."""
        if not self.initialised:
            return 0
        return replicates_in_blocks(self.done, self.block_size, self.n_replicates)

    def __str__(self) -> str:
        if not self.initialised:
            return "not initialised (no complete template): nothing to keep"
        pending = (
            "; ensemble statistics not written yet (resume=True writes them)"
            if self.statistics_pending
            else ""
        )
        corrupt = (
            f"; {len(self.corrupt)} corrupt chunks (checksum mismatch): "
            + ", ".join(self.corrupt[:5])
            + (", ..." if len(self.corrupt) > 5 else "")
            if self.corrupt
            else ""
        )
        return (
            f"{int(self.done.sum())} of {self.done.size} blocks done "
            f"({self.replicates_done} of {self.n_points * self.n_replicates} replicates), "
            f"block size {self.block_size}{pending}{corrupt}"
        )


def join(group: str | None, name: str) -> str:
    return name if not group else f"{group.rstrip('/')}/{name}"


def store_status(
    store: str | os.PathLike[str],
    *,
    group: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    verify: bool = False,
) -> StoreStatus:
    """Which blocks of a streamed store are complete.

    Parameters
    ----------
    store : str or path-like
        The zarr store (a path or an fsspec URL).
    group : str, optional
        The run's group inside the store.
    storage_options : dict, optional
        fsspec options for a URL.
    verify : bool, default False
        Also read every chunk of the run and check its CRC32C checksum (reads the whole store);
        the bad ones are listed in ``corrupt``.

    Returns
    -------
    StoreStatus
    """
    path = safety.check_store_path(store)
    empty = StoreStatus(False, 0, 0, 0, 0, np.zeros((0, 0), dtype=bool))
    try:
        prog = open_group(path, join(group, PROGRESS_GROUP), "r", storage_options)
        attrs = dict(prog.attrs)
        if not attrs.get("initialised"):
            return empty
        done = np.asarray(prog["block_done"][...]) != 0
        summary_store = "stats" in prog
    except Exception:
        return empty
    return StoreStatus(
        initialised=True,
        block_size=int(attrs["block_size"]),
        n_blocks=int(attrs["n_blocks"]),
        n_points=int(attrs["n_points"]),
        n_replicates=int(attrs["n_replicates"]),
        done=done.reshape(int(attrs["n_points"]), int(attrs["n_blocks"])),
        statistics_pending=summary_store and not attrs.get("statistics_done", False),
        corrupt=_corrupt_chunks(path, group, storage_options) if verify else (),
    )


def _corrupt_chunks(
    path: str, group: str | None, storage_options: Mapping[str, Any] | None
) -> tuple[str, ...]:
    """Every chunk of the run's arrays (the progress marker included) that fails to decode: its
    checksum does not match, or its bytes are not a valid chunk."""
    import zarr

    bad = []
    root = open_group(path, group, "r", storage_options)
    for name, node in sorted(root.members(max_depth=None), key=lambda m: m[0]):
        if not isinstance(node, zarr.Array) or name.startswith(safety.LOCK_GROUP):
            continue
        for index in itertools.product(*(range(n) for n in node.cdata_shape)):
            try:
                node.blocks[index]
            except Exception:
                bad.append(f"{name} chunk {index}")
    return tuple(bad)


def _identity(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in _IDENTITY_ATTRS}


def check_identity(stored: Mapping[str, Any], wanted: Mapping[str, Any], where: str) -> None:
    a, b = _identity(stored), _identity(wanted)
    diff = [
        item for k in _IDENTITY_ATTRS for item in _differences(k, _decoded(a[k]), _decoded(b[k]))
    ]
    if diff:
        details = "; ".join(
            f"{name}: stored {_short(x)}, requested {_short(y)}" for name, x, y in diff[:4]
        )
        more = f"; and {len(diff) - 4} more" if len(diff) > 4 else ""
        raise InvalidRunError(
            f"{where} was written by a different run ({details}{more}); "
            "refusing to mix them. Resume with the same model, schedule, run options and seed, "
            "or write to another store"
        )


def _decoded(v: Any) -> Any:
    """An identity attribute as plain data (the specs are stored as JSON text)."""
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return _normal(v)


def _differences(name: str, a: Any, b: Any) -> Iterator[tuple[str, Any, Any]]:
    """Every leaf that differs between two decoded attributes, as (dotted path, stored,
    requested): a missing key reads as null."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            yield from _differences(f"{name}.{k}", a.get(k), b.get(k))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(f"{name}[{i}]", x, y)
    elif _normal(a) != _normal(b):
        yield name, a, b


def _normal(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    return v


def _short(v: Any, n: int = 80) -> str:
    s = json.dumps(_normal(v)) if not isinstance(v, str) else v
    return s if len(s) <= n else s[: n - 3] + "..."


def stored_attrs(
    store: str | os.PathLike[str],
    *,
    group: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Global attributes of the run in a store (None if there is none)."""
    path = safety.check_store_path(store)
    if not safety.exists(path, group, storage_options):
        return None
    try:
        return dict(open_group(path, group, "r", storage_options).attrs)
    except Exception:
        return None


def stored_seed(
    store: str | os.PathLike[str],
    *,
    group: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> np.random.SeedSequence | None:
    """The seed recorded in the run of a store (to resume it without being told the seed), or
    None if the store holds no run. A sweep's ``run`` attribute records its root seed."""
    stored = stored_attrs(store, group=group, storage_options=storage_options)
    if stored is None or cv.ATTR_RUN not in stored:
        return None
    spec = json.loads(stored[cv.ATTR_RUN])
    return seed_from_attrs(spec["seed"], spec.get("seed_spawn_key"))


def seed_for_resume(
    seed: SeedLike,
    store: str | None,
    *,
    group: str | None,
    storage_options: Mapping[str, Any] | None,
    resume: bool,
) -> tuple[SeedLike, bool]:
    """The seed of a run into ``store``: with ``resume=True`` and no seed, the one the store
    records. Also whether a fresh seed will be drawn (``resume=True``, and no seed given or
    recorded): the run then says so in a warning."""
    if resume and store is not None and seed is None:
        seed = stored_seed(store, group=group, storage_options=storage_options)
    return seed, resume and seed is None
