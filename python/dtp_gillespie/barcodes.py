"""Barcoded lineages and clones: what a run tracks (``barcodes=``, ``barcode_times=``,
``clones=`` of :func:`~dtp_gillespie.simulate`), and the engine's ``run["lineages"]`` dict.

The options are checked in :mod:`dtp_gillespie._options` (the one place run options are
checked); this module holds the checked values (:class:`Barcodes`, :class:`Lineages`) and
what they become: the engine's input, the ``run`` attribute, and an estimate of the rows a
replicate adds to the lineage table (for the block size and the memory guard). The layout of
the output is described in docs/lineages.md.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ._checks import check_count, is_int
from .errors import InvalidRunError

if TYPE_CHECKING:
    from ._core import LineageSpec

__all__ = ["LINEAGE_ROW_BYTES", "Barcodes", "Lineages", "check_barcodes"]

LINEAGE_ROW_BYTES = 8 + 4 + 8 + 8 + 1 + 8
"""Bytes of one row of the lineage table (replicate, time, barcode, clone, state, count)."""

TRACKER_BYTES_PER_LINEAGE_STATE = 16
"""Working memory of a replicate's lineage tracker per lineage and cell state while it runs (its
counts and their picker; measured at about 47 bytes per lineage with 3 states)."""

CLONE_ROW_BYTES = 8 * 4 + 8 + 1 + 1 + 8
"""Bytes of one row of the clone table."""


MAX_BARCODES = 2**32
"""The largest library the engine tracks (barcodes are 32-bit)."""


@dataclass(frozen=True)
class Barcodes:
    """How the initial cells are barcoded.

    Use the constructors: :meth:`founders` (one barcode per initial cell) or :meth:`library`
    (each initial cell draws one of ``n_barcodes`` barcodes uniformly, as in a transduction).
    ``dg.simulate(..., barcodes="founders")`` and ``barcodes=B`` (an int) are shorthands.
    """

    mode: Literal["founders", "library"]
    n_barcodes: int | None = None
    """The library size B (``library`` only)."""

    @classmethod
    def founders(cls) -> "Barcodes":
        """Initial cell ``k`` (counting the first state's cells first, then the second's, ...)
        carries barcode ``k``: as many barcodes as initial cells, one cell each."""
        return cls("founders")

    @classmethod
    def library(cls, n_barcodes: int) -> "Barcodes":
        """Each initial cell draws its barcode uniformly from ``0 .. n_barcodes - 1``
        (independently, from the replicate's lineage stream): a transduction with a library of
        ``n_barcodes`` barcodes."""
        n = check_count(n_barcodes, "barcodes (n_barcodes)", 1)
        if n > MAX_BARCODES:
            raise InvalidRunError(
                f"barcodes (n_barcodes) is {n}; at most 2^32 = {MAX_BARCODES} barcodes can be "
                "tracked"
            )
        return cls("library", n)

    def to_spec(self) -> str | int:
        """The ``barcodes`` value that gives these barcodes (as recorded in the ``run``
        attribute): ``"founders"`` or the library size."""
        if self.mode == "founders":
            return "founders"
        assert self.n_barcodes is not None
        return self.n_barcodes


@dataclass(frozen=True, eq=False)
class Lineages:
    """The lineage options of a run, checked (``_options.RunOptions.build``)."""

    barcodes: Barcodes | None
    """None: no barcodes (every cell carries barcode 0; only with ``clones``)."""
    times: npt.NDArray[np.float64]
    """The barcode times (non-decreasing, within [0, t_end])."""
    times_given: bool
    """``barcode_times`` was given (else the record times are used)."""
    clones: bool

    def engine_spec(self) -> "LineageSpec":
        """The engine's ``run["lineages"]`` (``LineageSpec`` in ``_core.pyi``)."""
        times = [float(t) for t in self.times]
        if self.barcodes is None:
            # One barcode for every cell: a library of one draws nothing.
            return {"start": "library", "n_barcodes": 1, "times": times, "clones": self.clones}
        if self.barcodes.mode == "founders":
            return {"start": "founders", "times": times, "clones": self.clones}
        assert self.barcodes.n_barcodes is not None
        return {
            "start": "library",
            "n_barcodes": self.barcodes.n_barcodes,
            "times": times,
            "clones": self.clones,
        }

    def run_spec(self) -> dict[str, Any]:
        """The entries of the ``run`` attribute (what :func:`~dtp_gillespie.reproduce` and a
        resumed store read back)."""
        return {
            "barcodes": None if self.barcodes is None else self.barcodes.to_spec(),
            "barcode_times": [float(t) for t in self.times] if self.times_given else None,
            "clones": self.clones,
        }

    def initial_lineages(self, initial_cells: int) -> int:
        """The lineages of one replicate at the start (at least 1)."""
        if self.barcodes is None:
            return 1
        if self.barcodes.mode == "founders":
            return max(1, initial_cells)
        assert self.barcodes.n_barcodes is not None
        return max(1, min(self.barcodes.n_barcodes, initial_cells))

    def rows_per_replicate(self, initial_cells: int) -> int:
        """A rough size of one replicate's lineage table, for the block size and the memory
        guard: one row per initial lineage at every barcode time (a lineage spread over
        several states, or a mutating population, has more)."""
        return max(1, self.times.size) * self.initial_lineages(initial_cells)


def check_barcodes(value: object) -> Barcodes | None:
    """The ``barcodes`` option (of a run or a protocol): None, ``"founders"``, a library size
    B >= 1, or a :class:`~dtp_gillespie.Barcodes`; an ``InvalidRunError`` naming the value
    otherwise."""
    if value is None or isinstance(value, Barcodes):
        return value
    if isinstance(value, str):
        if value == "founders":
            return Barcodes.founders()
        raise InvalidRunError(
            f"barcodes is {value!r}; expected 'founders', a number of barcodes B >= 1 (a "
            "library), dg.Barcodes.founders() or dg.Barcodes.library(B)"
        )
    if is_int(value) or isinstance(value, float | np.floating):
        return Barcodes.library(check_count(value, "barcodes (number of barcodes B)", 1))
    raise InvalidRunError(
        f"barcodes is {value!r} ({type(value).__name__}); expected None, 'founders', a number "
        "of barcodes B >= 1, dg.Barcodes.founders() or dg.Barcodes.library(B)"
    )
