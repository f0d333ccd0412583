"""Lineage tables shaped exactly as the engine returns them (LINEAGE_API.md), for testing the
plumbing (options, Dataset, sinks, stores, analysis) independently of the engine's statistics.

``with_fake_tables(simulate_ensemble)`` wraps the engine's call: when ``run["lineages"]`` is
given and the engine returned no lineage keys, it adds tables derived deterministically from the
returned counts and the global replicate index, so that they do not depend on how the
replicates are cut into blocks, and their rows of a state sum to ``count`` at every barcode time
that is a record time.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
from dtp_gillespie import conventions as cv


def fake_tables(arrays: dict[str, Any], run: dict[str, Any]) -> dict[str, np.ndarray]:
    """The engine's extra keys for ``arrays`` (one call) and the call's ``run`` dict."""
    spec = run["lineages"]
    offset = int(run.get("replicate_offset", 0))
    count = np.asarray(arrays[cv.COUNT])
    record = np.asarray(run["record_times"], dtype=np.float64)
    times = np.asarray(spec["times"], dtype=np.float64)
    stop = np.asarray(arrays[cv.STOP_TIME])
    n_rep, _, n_states = count.shape
    lineage: dict[str, list[int]] = {name: [] for name in cv.LINEAGE_TABLE}
    clone: dict[str, list[Any]] = {name: [] for name in cv.CLONE_TABLE}
    born = np.zeros(n_rep, dtype=np.int64)
    for i in range(n_rep):
        g = offset + i
        n_clones = g % 3 if spec["clones"] else 0  # 0, 1 or 2 clones
        born[i] = n_clones
        for k, t in enumerate(times):
            if t > stop[i]:
                continue
            j = int(np.searchsorted(record, t, side="right")) - 1
            for s in range(n_states):
                c = int(count[i, j, s])
                if c <= 0:
                    continue
                # Split the count over barcodes g % 5 and g % 5 + 1, the second in clone 1 if any.
                parts = [(g % 5, 0, c - c // 2), (g % 5 + 1, min(1, n_clones), c // 2)]
                for barcode, clone_id, n in parts:
                    if n > 0:
                        for name, v in zip(
                            cv.LINEAGE_TABLE, (g, k, barcode, clone_id, s, n), strict=True
                        ):
                            lineage[name].append(v)
        for c_id in range(1, n_clones + 1):
            row = (g, c_id, c_id - 1, g % 5 + 1, 0.25 * c_id, n_states - 1, 0, np.nan)
            for name, v in zip(cv.CLONE_TABLE, row, strict=True):
                clone[name].append(v)
    out: dict[str, np.ndarray] = {
        name: np.asarray(v, dtype=cv.OUTPUT[name].dtype) for name, v in lineage.items()
    }
    if spec["clones"]:
        out.update({name: np.asarray(v, dtype=cv.OUTPUT[name].dtype) for name, v in clone.items()})
        out[cv.CLONES_BORN] = born
        out[cv.CLONES_ALIVE] = born.copy()
        out[cv.FIRST_SURVIVING_RESISTANT_TIME] = np.where(born > 0, 0.25, np.nan)
    return out


def with_fake_tables(simulate_ensemble: Callable[..., Any]) -> Callable[..., Any]:
    """The engine call, plus fake lineage tables where the engine returned none."""

    def call(model: Any, schedule: Any, run: Any, progress: Any = None) -> Any:
        arrays = dict(simulate_ensemble(model, schedule, run, progress))
        if run.get("lineages") is not None and cv.LINEAGE_COUNT not in arrays:
            arrays.update(fake_tables(arrays, run))
        return arrays

    return call
