"""How the cells are barcoded at the start of a protocol: ``"founders"``, a library of ``B``
barcodes, or none."""

from dataclasses import dataclass
from typing import Literal

from .._checks import is_int
from ..errors import InvalidRunError

__all__ = ["BarcodeMode", "check_barcodes"]


@dataclass(frozen=True)
class BarcodeMode:
    """``kind`` "founders" (one barcode per initial cell), "library" (``n_barcodes`` barcodes,
    each initial cell draws one uniformly) or "none" (every cell carries barcode 0)."""

    kind: Literal["founders", "library", "none"]
    n_barcodes: int | None = None

    def to_value(self) -> str | int | None:
        """As the ``barcodes`` argument: "founders", B or None."""
        if self.kind == "library":
            return self.n_barcodes
        return "founders" if self.kind == "founders" else None


def check_barcodes(value: object, where: str = "barcodes") -> BarcodeMode:
    """``barcodes``: None, "founders" or an int B >= 1."""
    if value is None:
        return BarcodeMode("none")
    if isinstance(value, BarcodeMode):
        return value
    if isinstance(value, str):
        if value == "founders":
            return BarcodeMode("founders")
        raise InvalidRunError(
            f"{where} is {value!r}; expected 'founders', a number of library barcodes B >= 1, "
            "or None"
        )
    if is_int(value):
        b = int(value)  # type: ignore[call-overload]
        if b < 1:
            raise InvalidRunError(f"{where} is {value!r}; a library needs B >= 1 barcodes")
        return BarcodeMode("library", b)
    raise InvalidRunError(
        f"{where} is {value!r}; expected 'founders', a number of library barcodes B >= 1, or None"
    )
