"""Seed normalisation (Scientific Python SPEC 7) and derivation of the engine's ChaCha8 key.

``seed`` may be an int >= 0, a :class:`numpy.random.SeedSequence`, a :class:`numpy.random.Generator`
or None (fresh entropy). It is normalised to a SeedSequence; the 32-byte key of the per-replicate
ChaCha8 streams is ``ss.generate_state(8, np.uint32)`` as little-endian bytes. The entropy actually
used is recorded (attrs ``seed`` and, for a spawned SeedSequence, ``seed_spawn_key``) so that
``SeedSequence(seed, spawn_key=seed_spawn_key)`` rebuilds the same key.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidRunError

__all__ = ["SeedInfo", "SeedLike", "key_of", "normalise_seed", "seed_from_attrs", "spawn"]

SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None
"""Types accepted as ``seed``."""

_DEFAULT_POOL_SIZE = 4


@dataclass(frozen=True)
class SeedInfo:
    """A normalised seed.

    Attributes
    ----------
    seed_sequence : numpy.random.SeedSequence
        The SeedSequence the key derives from.
    key : bytes
        The 32-byte ChaCha8 key.
    attrs : dict
        Provenance to record: ``seed`` (int, or list of ints for a SeedSequence built from a
        sequence) and, when non-empty, ``seed_spawn_key`` (list of ints).
    """

    seed_sequence: np.random.SeedSequence
    key: bytes
    attrs: dict[str, Any]


def _fresh_entropy() -> int:
    # 63 bits keep the recorded seed an int that every attribute store (JSON, netCDF int64) holds.
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def key_of(ss: np.random.SeedSequence) -> bytes:
    """The 32-byte ChaCha8 key derived from a SeedSequence (little-endian uint32 words)."""
    return ss.generate_state(8, np.uint32).astype("<u4").tobytes()


def normalise_seed(seed: object) -> SeedInfo:
    """Normalise a SPEC 7 seed into a SeedSequence, its ChaCha8 key and the provenance attrs.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        ``None`` draws fresh OS entropy (recorded). A Generator is advanced by one draw of
        ``rng.integers(2**63)``, whose value becomes the seed.

    Returns
    -------
    SeedInfo

    Raises
    ------
    InvalidRunError
        For negative ints, bools, floats and other types.
    """
    attrs: dict[str, Any] = {}
    if seed is None:
        entropy = _fresh_entropy()
        ss = np.random.SeedSequence(entropy)
        attrs["seed"] = entropy
    elif isinstance(seed, np.random.SeedSequence):
        ss = seed
        ent = ss.entropy
        if ent is None:  # pragma: no cover - numpy always fills entropy
            raise InvalidRunError("seed: SeedSequence has no entropy")
        attrs["seed"] = int(ent) if isinstance(ent, int | np.integer) else [int(x) for x in ent]
        if ss.spawn_key:
            attrs["seed_spawn_key"] = [int(x) for x in ss.spawn_key]
        if ss.pool_size != _DEFAULT_POOL_SIZE:
            raise InvalidRunError(
                f"seed: SeedSequence with pool_size={ss.pool_size} is not supported "
                f"(use the default {_DEFAULT_POOL_SIZE})"
            )
    elif isinstance(seed, np.random.Generator):
        entropy = int(seed.integers(2**63))
        ss = np.random.SeedSequence(entropy)
        attrs["seed"] = entropy
    elif isinstance(seed, bool | np.bool_):
        raise InvalidRunError(f"seed is {seed!r}; expected an int >= 0, not a bool")
    elif isinstance(seed, int | np.integer):
        if seed < 0:
            raise InvalidRunError(f"seed is {seed!r}; it must be >= 0")
        ss = np.random.SeedSequence(int(seed))
        attrs["seed"] = int(seed)
    else:
        raise InvalidRunError(
            f"seed is {seed!r} ({type(seed).__name__}); expected an int >= 0, a "
            "numpy.random.SeedSequence, a numpy.random.Generator or None"
        )
    return SeedInfo(seed_sequence=ss, key=key_of(ss), attrs=attrs)


def seed_from_attrs(seed: object, spawn_key: object = None) -> np.random.SeedSequence:
    """Rebuild the SeedSequence recorded in a run's attrs (``seed``, ``seed_spawn_key``)."""
    entropy = _non_negative_ints(seed, "recorded seed")
    keys = () if spawn_key is None else _non_negative_ints(spawn_key, "recorded seed_spawn_key")
    if isinstance(keys, int):
        raise InvalidRunError(f"recorded seed_spawn_key is {spawn_key!r}; expected a list of ints")
    return np.random.SeedSequence(entropy, spawn_key=keys)


def _non_negative_ints(value: object, name: str) -> int | tuple[int, ...]:
    """An int >= 0, or a list of them (as recorded in JSON attributes)."""
    items = value if isinstance(value, list | tuple) else [value]
    for x in items:
        if isinstance(x, bool) or not isinstance(x, int | np.integer) or x < 0:
            raise InvalidRunError(
                f"{name} is {value!r}; expected an int >= 0 or a list of ints >= 0"
            )
    if isinstance(value, list | tuple):
        return tuple(int(x) for x in value)
    return int(value)  # type: ignore[call-overload,no-any-return]


def spawn(root: SeedInfo, k: int) -> SeedInfo:
    """The seed of grid point ``k`` of a sweep with root seed ``root``:
    ``SeedSequence(seed, spawn_key=seed_spawn_key + (k,))``, i.e. ``root.spawn(n)[k]``."""
    ss = root.seed_sequence
    return normalise_seed(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, k)))
