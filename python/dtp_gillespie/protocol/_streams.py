"""The named random streams of a protocol, derived from the user's seed.

Every random draw of a protocol comes from a stream named by what draws it, never from a shared
generator, so that a result does not depend on the order in which flasks, replicates, blocks or
threads are processed:

- the engine's trajectory of every flask in a ``grow`` step: a 32-byte ChaCha8 key per
  (step, flask), the engine's replicate index being the experiment's global replicate index;
- the cell sampling of a ``split``, ``passage`` or ``bottleneck``: a numpy Generator per
  (step, parent flask, replicate);
- the barcodes drawn from a library at the start: a numpy Generator per replicate.

Each stream is the SeedSequence ``SeedSequence(seed, spawn_key=(*seed_spawn_key, PROTOCOL, what,
...))`` of the run's seed (:mod:`dtp_gillespie._seeding`). Its spawn key is longer than a sweep
point's (``(*seed_spawn_key, k)``), so no protocol stream coincides with a sweep's.
"""

import numpy as np

from .._seeding import SeedInfo, key_of

__all__ = ["barcode_rng", "engine_key", "sampling_rng"]

PROTOCOL = 0x70726F74
"""First word of every protocol stream's spawn key (ASCII "prot")."""

_ENGINE, _SAMPLING, _BARCODES = 0, 1, 2


def _child(root: SeedInfo, *words: int) -> np.random.SeedSequence:
    ss = root.seed_sequence
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, PROTOCOL, *words))


def engine_key(root: SeedInfo, step: int, flask: int) -> bytes:
    """The engine's ChaCha8 key of flask ``flask`` (index among the step's flasks) in step
    ``step`` (index in the protocol's steps)."""
    return key_of(_child(root, _ENGINE, step, flask))


def sampling_rng(root: SeedInfo, step: int, flask: int, replicate: int) -> np.random.Generator:
    """The Generator of the cells sampled from flask ``flask`` of replicate ``replicate``
    (global index) at step ``step``."""
    return np.random.default_rng(_child(root, _SAMPLING, step, flask, replicate))


def barcode_rng(root: SeedInfo, replicate: int) -> np.random.Generator:
    """The Generator of the library barcodes drawn by the initial cells of ``replicate``."""
    return np.random.default_rng(_child(root, _BARCODES, replicate))
