"""The primitive input checks every spec and run option is built from: one owner per rule.

Each check returns the value in its checked form or raises the typed error it is given (an
``InvalidModelError`` for a model field, ``InvalidScheduleError`` for a schedule field,
``InvalidRunError`` for a run option) with a message that names the field and the value.
Semantic rules (which combinations of features are allowed) live with the spec they belong to;
this module holds only what "a number", "a count" and "a flag" mean, so that they mean the same
everywhere.
"""

import math
import numbers

import numpy as np

from .errors import DtpGillespieError, InvalidRunError

__all__ = ["INT64_MAX", "check_count", "check_flag", "is_int", "is_real", "to_float"]

INT64_MAX = 2**63 - 1


def is_real(value: object) -> bool:
    """True for real numbers (Python or numpy ints and floats), False for bools, strings and the
    rest: a bool or a string that numpy would convert silently is never a number here."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def is_int(value: object) -> bool:
    """True for Python and numpy integers, False for bools."""
    return not isinstance(value, bool | np.bool_) and isinstance(value, int | np.integer)


def to_float(value: object) -> float:
    """``float(value)`` for a real number, with an int too large for a float read as infinity
    (so that the range check that follows reports the value instead of an OverflowError)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        return math.inf


def check_flag(value: object, name: str) -> bool:
    """A bool option (``summary_only``, ...): True or False, not merely truthy or falsy."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidRunError(f"{name} is {value!r}; expected True or False")
    return bool(value)


def check_count(
    value: object,
    name: str,
    minimum: int,
    error: type[DtpGillespieError] = InvalidRunError,
) -> int:
    """The one check of every count (``n_replicates``, ``max_events``, ``max_population``,
    initial counts, ``block_size``, ...): an int, or a float with an integral value (``1e6``,
    as TOML and scientific notation give), from ``minimum`` to 2**63 - 1.

    Raises
    ------
    InvalidRunError (or ``error``)
        Naming the field and the value: not a number, a bool, a fraction, or out of range.
    """
    whole_float = (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    )
    if not (is_int(value) or whole_float):
        raise error(
            f"{name} is {value!r}; expected a whole number >= {minimum} (an int, or a float "
            "such as 1e6 with no fractional part)"
        )
    v: int = int(value)  # type: ignore[call-overload]
    if v > INT64_MAX:
        raise error(
            f"{name} is {value!r}; it must be a whole number from {minimum} to {INT64_MAX} "
            "(2^63 - 1, the largest count the engine holds)"
        )
    if v < minimum:
        raise error(f"{name} is {value!r}; it must be a whole number >= {minimum}")
    return v
