"""The sister-flask presets: one barcoded experiment under two hypotheses of persister origin.

Both presets run the same protocol (the design of barcode experiments such as Bhang et al.
2015, Nat. Med. 21:440, and Hata et al. 2016, Nat. Med. 22:262): a library of 100 barcodes
transduced into 10^4 cells (about 100 cells per barcode), 3 days of expansion without drug, a
count, a split into 2 sister flasks, 5 days of drug in each, and a count. What differs is where
the surviving cells come from:

- :func:`sister_flasks_preexisting`: a heritable, drug-tolerant state ``P`` present before the
  drug (0.25% of cells), that cycles like the sensitive cells without drug and switches back
  slowly (0.02/day). A barcode holding a ``P`` cell at the start expands it into a small ``P``
  clone before the split, which reaches both flasks: the same barcodes survive in both.
- :func:`sister_flasks_induced`: no tolerant cell before the drug; every sensitive cell under
  drug turns tolerant independently (memoryless, drug-induced switching at 0.003/day), and
  tolerance is lost quickly without drug. Survival in one flask says nothing about its sister:
  the overlap falls to chance.

All rates are illustrative (chosen so that about 40% of barcodes survive in each flask under
either hypothesis), not fitted to a cell line. Units: days, cells.
"""

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr

    from .protocol import Protocol

__all__ = ["ProtocolPreset", "sister_flasks_induced", "sister_flasks_preexisting"]


@dataclass
class ProtocolPreset:
    """A model spec, named schedule specs, a protocol table and run options: the layout of a
    protocol TOML file (docs/protocols.md), as plain dicts to edit before running."""

    model: dict[str, Any]
    schedules: dict[str, Any]
    protocol: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as ``{"model", "schedules", "protocol", "run"}`` (a protocol file)."""
        return copy.deepcopy(
            {
                "model": self.model,
                "schedules": self.schedules,
                "protocol": self.protocol,
                "run": self.run,
            }
        )

    def to_protocol(self) -> "Protocol":
        """The :class:`~dtp_gillespie.Protocol` of the preset."""
        from .protocol import Protocol

        return Protocol.from_dict(self.to_dict())

    def simulate(self, **overrides: Any) -> "xr.Dataset":
        """Run the protocol with the preset's run options, ``overrides`` replacing them."""
        return self.to_protocol().run(**{**self.run, **overrides})


_SCHEDULES = {
    "expand": {"kind": "continuous", "exposure": "off"},
    "drug": {"kind": "continuous", "exposure": "on"},
}
_N_BARCODES = 100
_CELLS = 10_000


def _protocol(initial: dict[str, int]) -> dict[str, Any]:
    return {
        "initial": initial,
        "barcodes": _N_BARCODES,
        "steps": [
            {"step": "grow", "schedule": "expand", "duration": 3.0},
            {"step": "count"},
            {"step": "split", "flasks": 2},
            {"step": "treat", "schedule": "drug", "duration": 5.0},
            {"step": "count"},
        ],
    }


def _model(switch: list[dict[str, Any]]) -> dict[str, Any]:
    """Sensitive S and tolerant P: both cycle without drug; the drug kills S (net -2.25/day) and
    leaves P nearly dormant (division and death 0.04/day)."""
    return {
        "states": ["S", "P"],
        "exposures": ["off", "on"],
        "division": {"S": 0.75, "P": {"off": 0.75, "on": 0.04}},
        "death": {"S": {"off": 0.05, "on": 3.0}, "P": {"off": 0.05, "on": 0.04}},
        "switch": switch,
    }


def sister_flasks_preexisting() -> ProtocolPreset:
    """Sister flasks under a heritable, pre-existing persister state (high overlap).

    S -> P at 5e-5/day and P -> S at 0.02/day under both exposures (slow: a P clone stays P for
    about 50 days, many generations); 25 of the 10^4 initial cells are P (0.25%, about one barcode
    in five holds one). See the module docstring for the protocol.
    """
    switch = [
        {"from": "S", "to": "P", "rate": 5e-5},
        {"from": "P", "to": "S", "rate": 0.02},
    ]
    initial = {"S": _CELLS - 25, "P": 25}
    return ProtocolPreset(
        _model(switch),
        copy.deepcopy(_SCHEDULES),
        _protocol(initial),
        {"n_replicates": 100},
    )


def sister_flasks_induced() -> ProtocolPreset:
    """Sister flasks under memoryless, drug-induced switching (chance overlap).

    S -> P at 0.003/day only under drug; P -> S at 2/day only without drug (tolerance is
    forgotten within hours); no P cell at the start. See the module docstring for the protocol.
    """
    switch = [
        {"from": "S", "to": "P", "rate": {"off": 0.0, "on": 0.003}},
        {"from": "P", "to": "S", "rate": {"off": 2.0, "on": 0.0}},
    ]
    return ProtocolPreset(
        _model(switch),
        copy.deepcopy(_SCHEDULES),
        _protocol({"S": _CELLS}),
        {"n_replicates": 100},
    )
