"""The lineage and clone variables of the output (docs/lineages.md): their names and their
rows of the output table :data:`dtp_gillespie.conventions.OUTPUTS`, which reads them from here
(as the arguments of :class:`~dtp_gillespie.conventions.Output`)."""

import math
from typing import Any, Final

__all__ = [
    "BARCODE_TIME",
    "CLONES_ALIVE",
    "CLONES_BORN",
    "CLONE_BARCODE",
    "CLONE_BIRTH_EXPOSURE",
    "CLONE_BIRTH_TIME",
    "CLONE_EXTINCTION_TIME",
    "CLONE_ID",
    "CLONE_PARENT",
    "CLONE_REPLICATE",
    "CLONE_ROW",
    "CLONE_STATE",
    "FIRST_SURVIVING_RESISTANT_TIME",
    "LINEAGE_BARCODE",
    "LINEAGE_CLONE",
    "LINEAGE_COUNT",
    "LINEAGE_OUTPUTS",
    "LINEAGE_REPLICATE",
    "LINEAGE_ROW",
    "LINEAGE_STATE",
    "LINEAGE_TIME",
]

BARCODE_TIME: Final = "barcode_time"
"""Record times of the lineage table (``barcode_times``; by default the record times)."""
LINEAGE_ROW: Final = "lineage_row"
"""Dimension of the long table of lineage sizes (one row per replicate, barcode time, lineage
and state with a count > 0)."""
CLONE_ROW: Final = "clone_row"
"""Dimension of the clone table (one row per clone)."""

# Columns of the lineage table, of the clone table, and the per-replicate clone tallies.
LINEAGE_REPLICATE: Final = "lineage_replicate"
LINEAGE_TIME: Final = "lineage_time"
LINEAGE_BARCODE: Final = "lineage_barcode"
LINEAGE_CLONE: Final = "lineage_clone"
LINEAGE_STATE: Final = "lineage_state"
LINEAGE_COUNT: Final = "lineage_count"
CLONE_REPLICATE: Final = "clone_replicate"
CLONE_ID: Final = "clone_id"
CLONE_PARENT: Final = "clone_parent"
CLONE_BARCODE: Final = "clone_barcode"
CLONE_BIRTH_TIME: Final = "clone_birth_time"
CLONE_STATE: Final = "clone_state"
CLONE_BIRTH_EXPOSURE: Final = "clone_birth_exposure"
CLONE_EXTINCTION_TIME: Final = "clone_extinction_time"
CLONES_BORN: Final = "clones_born"
CLONES_ALIVE: Final = "clones_alive"
FIRST_SURVIVING_RESISTANT_TIME: Final = "first_surviving_resistant_time"

_NOT_RUN = -1
_NAN = math.nan
_DAY = "day"
_REPLICATE = "replicate"
_LINEAGE_ROWS = (LINEAGE_ROW,)
_CLONE_ROWS = (CLONE_ROW,)
_TABLE_ORDER = (
    "rows ordered by replicate, then barcode time, then lineage (in order of creation), then "
    "state; only lineages with a count > 0 have rows"
)


def _row(
    name: str, dims: tuple[str, ...], dtype: str, units: str, long_name: str, **rest: Any
) -> dict[str, Any]:
    """One row of the output table, as the keyword arguments of ``conventions.Output``."""
    return {
        "name": name,
        "dims": dims,
        "dtype": dtype,
        "units": units,
        "long_name": long_name,
        **rest,
    }


LINEAGE_OUTPUTS: Final[tuple[dict[str, Any], ...]] = (
    _row(
        LINEAGE_REPLICATE,
        _LINEAGE_ROWS,
        "int64",
        "1",
        "replicate of the row (global replicate index)",
        fill=_NOT_RUN,
        comment=_TABLE_ORDER,
        present="lineages",
        summary="drop",
    ),
    _row(
        LINEAGE_TIME,
        _LINEAGE_ROWS,
        "int32",
        "1",
        "barcode time of the row (position along barcode_time)",
        fill=_NOT_RUN,
        comment="the time itself is barcode_time[lineage_time]",
        present="lineages",
        summary="drop",
    ),
    _row(
        LINEAGE_BARCODE,
        _LINEAGE_ROWS,
        "int64",
        "1",
        "barcode of the lineage",
        fill=_NOT_RUN,
        comment=(
            "a heritable label given at t = 0: barcodes='founders' numbers the initial cells "
            "(state by state, in model order), a library of B barcodes draws one of 0..B-1 "
            "uniformly for each initial cell; 0 for every cell without barcodes"
        ),
        present="lineages",
        summary="drop",
    ),
    _row(
        LINEAGE_CLONE,
        _LINEAGE_ROWS,
        "int64",
        "1",
        "clone of the lineage",
        fill=_NOT_RUN,
        comment=(
            "0: no mutation since t = 0 (the background); else the clone_id of a clone founded "
            "by a mutation (clones=True), described in the clone table"
        ),
        present="lineages",
        summary="drop",
    ),
    _row(
        LINEAGE_STATE,
        _LINEAGE_ROWS,
        "int8",
        "1",
        "cell state of the row",
        fill=_NOT_RUN,
        present="lineages",
        summary="drop",
        flags="states",
    ),
    _row(
        LINEAGE_COUNT,
        _LINEAGE_ROWS,
        "int64",
        "1",
        "cells of the lineage in the state at the barcode time",
        fill=_NOT_RUN,
        comment=(
            "only rows with a count > 0 are stored; a replicate stopped by a cap (status "
            "max_events, max_population or rate_overflow) has no rows at barcode times after its "
            "stop_time (unknown), an extinct one none after its extinction (every count is 0); at "
            "each barcode time that is also a record time, a replicate's rows of a state sum to "
            "its count"
        ),
        present="lineages",
        summary="drop",
    ),
    # The clone table and the per-replicate clone tallies (clones=True).
    _row(
        CLONE_REPLICATE,
        _CLONE_ROWS,
        "int64",
        "1",
        "replicate of the clone (global replicate index)",
        fill=_NOT_RUN,
        comment="rows ordered by replicate, then clone_id",
        present="clones",
        summary="drop",
    ),
    _row(
        CLONE_ID,
        _CLONE_ROWS,
        "int64",
        "1",
        "clone id, within its replicate",
        fill=_NOT_RUN,
        comment="1, 2, ... in order of birth within the replicate (0 is the background)",
        present="clones",
        summary="drop",
    ),
    _row(
        CLONE_PARENT,
        _CLONE_ROWS,
        "int64",
        "1",
        "clone of the cell the clone was founded from",
        fill=_NOT_RUN,
        comment="0: founded from the background (no earlier mutation in its ancestry)",
        present="clones",
        summary="drop",
    ),
    _row(
        CLONE_BARCODE,
        _CLONE_ROWS,
        "int64",
        "1",
        "barcode of the clone (inherited from its founding cell)",
        fill=_NOT_RUN,
        present="clones",
        summary="drop",
    ),
    _row(
        CLONE_BIRTH_TIME,
        _CLONE_ROWS,
        "float64",
        _DAY,
        "time of the mutation that founded the clone",
        fill=_NAN,
        present="clones",
        summary="drop",
    ),
    _row(
        CLONE_STATE,
        _CLONE_ROWS,
        "int8",
        "1",
        "cell state the founding cell was born into",
        fill=_NOT_RUN,
        present="clones",
        summary="drop",
        flags="states",
    ),
    _row(
        CLONE_BIRTH_EXPOSURE,
        _CLONE_ROWS,
        "int8",
        "1",
        "drug exposure in force when the clone was founded",
        fill=_NOT_RUN,
        present="clones",
        summary="drop",
        flags="exposures",
    ),
    _row(
        CLONE_EXTINCTION_TIME,
        _CLONE_ROWS,
        "float64",
        _DAY,
        "time the clone's last cell died",
        fill=_NAN,
        comment="NaN if the clone was alive at stop_time",
        present="clones",
        summary="drop",
    ),
    _row(
        CLONES_BORN,
        (_REPLICATE,),
        "int64",
        "1",
        "number of clones founded (mutation events)",
        fill=_NOT_RUN,
        present="clones",
    ),
    _row(
        CLONES_ALIVE,
        (_REPLICATE,),
        "int64",
        "1",
        "number of clones alive at stop_time",
        fill=_NOT_RUN,
        present="clones",
    ),
    _row(
        FIRST_SURVIVING_RESISTANT_TIME,
        (_REPLICATE,),
        "float64",
        _DAY,
        "earliest birth time of a clone alive at stop_time",
        fill=_NAN,
        comment=(
            "the first mutation whose clone survives to stop_time (first_mutant_time is the "
            "first mutation, surviving or not); NaN if no clone is alive at stop_time"
        ),
        present="clones",
    ),
)
"""The rows of the output table for lineage tracking, in Dataset order."""
