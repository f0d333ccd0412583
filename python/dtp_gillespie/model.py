"""The cell-population model: declarative spec, validation and compilation for the engine.

A model is written as plain data (docs/model.md)::

    {
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": {"S": 0.04, "P": 0.005, "R": 0.035},
        "death": {"S": {"off": 0.01, "on": 0.30}, "P": 0.005, "R": 0.01},
        "switch": [{"from": "S", "to": "P", "rate": {"off": 0.001, "on": 0.01}}],
        "mutation": [{"from": "P", "to": "R", "probability": 1e-4}],
        "capacity": {"K": 1e6, "on": "division", "weights": {"R": 1.0}},  # optional
    }

Rules
-----
- ``states`` is required; a state is a name or ``{name, genetic}``. A *genetic* state is reached
  only by mutation and never reverts: a switch or mutation out of a genetic state into a
  non-genetic state is an error; a switch into a genetic state is a mutation per unit time.
- ``exposures`` defaults to ``["off", "on"]`` when omitted (the exposure names the schedules use by
  default), so a model whose rates are all single numbers needs no ``exposures`` key.
- A rate (or probability) is one number, the same under every exposure, or a table
  ``{exposure: number}`` naming every exposure of the model (a partial table is an error naming
  the missing exposure).
- ``division`` and ``death`` map state names to rates; a missing state has rate 0.
- Rates are per day, finite and >= 0; probabilities lie in [0, 1], and the mutation
  probabilities out of one state sum to at most 1 under every exposure.
- Names (states and exposures) are non-empty strings without whitespace; unknown keys are errors.

Density dependence: capacity and competition
--------------------------------------------
``capacity = {"K": K, "on": "division" | "death" | "death_additive", "weights": {state: w},
"slope": ...}`` gives every state the same crowding ``x = Σ_j w_j n_j / K``. ``"death_additive"``
makes the death rate ``d_i + c_i·x`` under every exposure, so crowding only ever adds death;
the slope ``c_i`` is ``slope``: an exposure name (default ``"off"``), giving ``c_i = max(0, b_i −
d_i)`` under that exposure (there the model is the logistic ``"death"`` form), or a number or
``{state: number}`` table (states it does not name get 0). ``competition`` gives each listed
state ``i`` its own Lotka–Volterra row::

    "competition": {
        "on": "death",                     # or "division" (default)
        "states": {
            "T+": {"K": 1.0, "K_per_cell": {"TP": {"off": 1.5, "on": 0.5}},
                   "alpha": {"T+": 1.0, "TP": 0.7, "T-": 0.8}},
            "TP": {"K": {"off": 10000, "on": 100}, "alpha": {"T+": 0.4, "TP": 1.0, "T-": 0.5}},
        },
    }

with crowding ``x_i = C_i / K_i``, ``C_i = Σ_j alpha_ij n_j`` and ``K_i = K + Σ_j K_per_cell_j n_j``
(a capacity that grows with another population's count). On division the division rate of ``i``
is ``b_i·max(0, 1 − x_i)``; on death its death rate is ``max(0, d_i + (b_i − d_i)·x_i)`` (with
``d_i = 0``: birth ``b_i``, death ``b_i x_i``, whose mean is the Lotka–Volterra growth
``b_i n_i (1 − x_i)``, also above capacity). Two declarations are accepted with a
:class:`~dtp_gillespie.errors.CrowdingWarning` naming the state and exposure: on death where
``d_i > b_i`` (a drug that kills the state), since crowding then *lowers* death; and on division
with death rate 0 under an exposure whose capacity is lower than another's, since cells above it
are frozen. Every coefficient is a number or an ``{exposure: number}`` table, finite and >= 0.
``alpha`` defaults to ``{i: 1}`` (logistic in the state's own count); states it does not name
have coefficient 0; ``K`` defaults to 0 and ``K_per_cell`` to ``{}``. When ``K_i = 0``
(``K = 0`` and the populations of ``K_per_cell`` extinct) the state has no room to grow: its
division rate is 0. On death ``K`` must be > 0 under every exposure (the death rate would be
infinite). States not listed are not density dependent. A model has ``capacity`` or
``competition``, not both; a capacity is the special case of one row per state with
``alpha = weights`` and constant ``K``.

Biomarker
---------
``biomarker = {"name": "PSA", "units": "ng/mL", "production": {state: p}, "decay": 0.5,
"initial": "steady" | y0}`` adds a circulating biomarker ``dy/dt = Σ_i p_i n_i − decay·y``
(``p_i`` per cell per day, a number or an exposure table; ``decay`` per day, > 0). ``initial``
is ``y(0)`` (>= 0) or ``"steady"`` (default): ``Σ p_i n_i(0) / decay`` under the initial exposure.
Between events ``y`` is known in closed form, so adaptive schedules can monitor it (``monitor =
"biomarker"``) and switch at its exact threshold crossings; runs record it as ``biomarker``.
``name`` (default ``"biomarker"``) and ``units`` (default ``"1"``) label the output.

Drug combinations and modulators
--------------------------------
Exposures may name drug combinations (``["off", "A", "M", "A+M"]``): every rate table then has one
value per combination. A *modulator* (an epigenetic or metabolic drug that changes chosen rates by
a factor) can instead be declared once::

    "modulators": [{"drug": "M", "base": "off",
                    "effects": [{"process": "switch", "from": "P", "to": "S", "factor": 3.0},
                                {"process": "death", "state": "P", "factor": 2.0}]}]

An exposure *contains* the modulator when ``"M"`` is one of its ``+``-separated parts (``"M"``,
``"A+M"``). A rate table may omit such exposures, and a single number gives the value under the
exposures that contain no modulator only; an omitted value is derived as the value under the
exposure without the modulator (``"A+M"`` → ``"A"``; ``"M"`` alone → ``base``, default ``"off"``)
times the effect's ``factor`` for that process (1 when the modulator has no effect on it). With
several modulators in one exposure the last one in the name is removed first, recursively, so the
factors multiply. Values given explicitly always win. ``process`` is ``"division"`` or ``"death"``
(with ``state``) or ``"switch"`` or ``"mutation"`` (with ``from``/``to``, which the model must
declare); factors are finite and >= 0, and a derived mutation probability must stay <= 1. The
normalised spec (:meth:`Model.to_dict`) lists every derived value explicitly, next to the
``modulators`` table.
"""

import json
import tomllib
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, Final, cast

from ._crowding import warn_frozen_above_capacity, warn_lowered_death
from ._model_spec import (
    check_effect_targets,
    check_mutation_sums,
    parse_exposures,
    parse_modulators,
    parse_per_state,
    parse_states,
    parse_transitions,
)
from ._population_terms import (
    DEATH_ADDITIVE,
    MAX_BIOMARKER_PRODUCTION,
    _Biomarker,
    _Competition,
    _parse_biomarker,
    _parse_competition,
    parse_capacity,
)
from ._spec_values import _MODEL_KEYS, DEFAULT_EXPOSURES, Table, _check_keys, _fmt, _table_to_spec
from .errors import InvalidModelError

if TYPE_CHECKING:
    from ._core import ModelSpec, _ChannelKind, _DensityTarget

__all__ = ["DEATH_ADDITIVE", "DEFAULT_EXPOSURES", "MAX_BIOMARKER_PRODUCTION", "Model"]


# Channel kinds of the engine's reaction table (``ChannelSpec.kind`` in ``_core.pyi``).
KIND_DIVISION: Final = "division"
KIND_DEATH: Final = "death"
KIND_SWITCH: Final = "switch"

# A compiled reaction channel (``Model._channels``).
_Channel = tuple[int, int, int, "_ChannelKind", bool, Table, str, str, str]


class Model:
    """A multi-type cell-population model (states, exposures, processes, optional capacity).

    Build it from the declarative spec with :meth:`from_dict` / :meth:`from_toml`, or directly
    with the same keyword arguments (``Model(states=[...], division={...}, ...)``). Instances are
    immutable; equality compares the normalised spec (:meth:`to_dict`).

    Parameters
    ----------
    states : sequence of str or dict
        State names in model order; ``{"name": "R", "genetic": True}`` marks a genetic state.
    exposures : sequence of str, optional
        Exposure (drug environment) names; default ``["off", "on"]``.
    division, death : mapping of state name to rate, optional
        Per-cell division / death rate (per day) of each state; a rate is a number or
        ``{exposure: number}``. Missing states have rate 0.
    switch : sequence of dict, optional
        Phenotype switches ``{"from": i, "to": j, "rate": r}`` (per day).
    mutation : sequence of dict, optional
        Mutations at division ``{"from": i, "to": j, "probability": p}``: at a division of ``i`` one
        daughter becomes ``j`` with probability ``p``.
    capacity : dict, optional
        Density dependence ``{"K": K, "on": "division" | "death", "weights": {state: w}}``.
        ``on`` defaults to ``"division"`` (rate ``b·max(0, 1 − N/K)``; ``"death"``:
        ``d + (b − d)·N/K``); N is the weighted sum of the counts, weights defaulting to 1.
    competition : dict, optional
        Lotka–Volterra competition ``{"on": ..., "states": {state: {"K", "K_per_cell",
        "alpha"}}}``: per-state crowding with capacities that may depend on other counts
        (module docstring). Excludes ``capacity``.
    biomarker : dict, optional
        A biomarker ``{"name", "units", "production", "decay", "initial"}`` driven by the cells
        (module docstring).
    modulators : sequence of dict, optional
        Multiplicative modulator effects ``{"drug": "M", "base": "off", "effects": [...]}`` from
        which rate values under exposures containing the modulator are derived (module
        docstring).

    Raises
    ------
    InvalidModelError
        If the spec is invalid; the message names the field and the value.
    """

    __slots__ = (
        "_biomarker",
        "_capacity",
        "_competition",
        "_death",
        "_division",
        "_exposures",
        "_genetic",
        "_modulators",
        "_mutation",
        "_states",
        "_switch",
    )

    _states: tuple[str, ...]
    _genetic: tuple[bool, ...]
    _exposures: tuple[str, ...]
    _division: tuple[Table, ...]
    _death: tuple[Table, ...]
    _switch: tuple[tuple[int, int, Table], ...]
    _mutation: tuple[tuple[int, int, Table], ...]
    _capacity: tuple[float, str, tuple[float, ...], tuple[float, ...]] | None
    _competition: "_Competition | None"
    _biomarker: "_Biomarker | None"
    _modulators: tuple[dict[str, Any], ...]

    def __init__(
        self,
        states: Sequence[str | Mapping[str, Any]],
        exposures: Sequence[str] | None = None,
        division: Mapping[str, Any] | None = None,
        death: Mapping[str, Any] | None = None,
        switch: Sequence[Mapping[str, Any]] | None = None,
        mutation: Sequence[Mapping[str, Any]] | None = None,
        capacity: Mapping[str, Any] | None = None,
        competition: Mapping[str, Any] | None = None,
        biomarker: Mapping[str, Any] | None = None,
        modulators: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        set_ = object.__setattr__
        names, genetic = parse_states(states)
        exps = parse_exposures(exposures)
        mods, mod = parse_modulators(modulators, names, exps)
        set_(self, "_states", names)
        set_(self, "_genetic", genetic)
        set_(self, "_exposures", exps)
        set_(self, "_modulators", mods)
        set_(self, "_division", parse_per_state(division, "division", names, exps, mod))
        set_(self, "_death", parse_per_state(death, "death", names, exps, mod))
        set_(self, "_switch", parse_transitions(switch, "switch", names, genetic, exps, mod))
        set_(
            self,
            "_mutation",
            parse_transitions(mutation, "mutation", names, genetic, exps, mod),
        )
        check_effect_targets(self._modulators, self._states, self._switch, self._mutation)
        check_mutation_sums(self._states, self._exposures, self._mutation)
        set_(self, "_capacity", parse_capacity(capacity, names, exps, self._division, self._death))
        if capacity is not None and competition is not None:
            raise InvalidModelError(
                "a model has either capacity or competition, not both (a capacity is competition "
                "with the same row, alpha = weights, for every state)"
            )
        set_(self, "_competition", _parse_competition(competition, names, exps, mod))
        set_(self, "_biomarker", _parse_biomarker(biomarker, names, exps, mod))
        self._warn_unbiological_crowding()

    # ------------------------------------------------------------------ parsing

    def _warn_unbiological_crowding(self) -> None:
        """Warn where the declared density dependence stops being biological (``_crowding``)."""
        args = (self._states, self._exposures, self._division, self._death)
        if self._capacity is not None and self._capacity[1] == "death":
            remedy = f'Use on = "{DEATH_ADDITIVE}" (death = d + slope·N/K) to only add death.'
            warn_lowered_death("capacity on death", *args, range(len(self._states)), remedy)
        comp = self._competition
        if comp is not None and comp.on == "death":
            remedy = 'Put the competition on division, or use a capacity on "death_additive".'
            rows = [row[0] for row in comp.rows]
            warn_lowered_death("competition on death", *args, rows, remedy)
        if comp is not None and comp.on == "division":
            warn_frozen_above_capacity(*args, comp.rows)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "Model":
        """Build a model from its declarative spec (a dict, e.g. a TOML ``[model]`` table).

        Parameters
        ----------
        spec : mapping
            The spec; see the module docstring for its shape.

        Returns
        -------
        Model

        Raises
        ------
        InvalidModelError
            If the spec is invalid (unknown keys included).
        """
        if isinstance(spec, Model):
            return spec
        if not isinstance(spec, Mapping):
            raise InvalidModelError(f"a model spec must be a table/dict, got {_fmt(spec)}")
        _check_keys(spec, _MODEL_KEYS, "model")
        if "states" not in spec:
            raise InvalidModelError("model has no 'states'")
        return cls(**spec)

    @classmethod
    def from_toml(cls, path: str | PathLike[str]) -> "Model":
        """Read a model from a TOML file.

        The file is either a bare model spec or a config with a ``[model]`` table (other tables,
        such as ``[schedule]`` and ``[run]``, are then ignored).

        Parameters
        ----------
        path : str or path-like
            Path of the TOML file.

        Returns
        -------
        Model
        """
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as exc:
                raise InvalidModelError(f"{path}: invalid TOML: {exc}") from None
        if "model" in data and "states" not in data:
            data = data["model"]
        return cls.from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> "Model":
        """Build a model from a JSON string such as the ``model`` attribute of an output Dataset."""
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ accessors

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Model is immutable")

    @property
    def states(self) -> tuple[str, ...]:
        """State names in model order."""
        return self._states

    @property
    def genetic_states(self) -> tuple[str, ...]:
        """Names of the genetic states, in model order."""
        return tuple(s for s, g in zip(self._states, self._genetic, strict=True) if g)

    @property
    def exposures(self) -> tuple[str, ...]:
        """Exposure names; the exposure codes in the output are indices into this tuple."""
        return self._exposures

    @property
    def n_states(self) -> int:
        """Number of cell states."""
        return len(self._states)

    @property
    def capacity(self) -> dict[str, Any] | None:
        """The normalised capacity spec, or None without density dependence."""
        if self._capacity is None:
            return None
        k, on, weights, slope = self._capacity
        out = {"K": k, "on": on, "weights": dict(zip(self._states, weights, strict=True))}
        if on == DEATH_ADDITIVE:
            out["slope"] = dict(zip(self._states, slope, strict=True))
        return out

    @property
    def competition(self) -> dict[str, Any] | None:
        """The normalised competition spec, or None."""
        return None if self._competition is None else self.to_dict()["competition"]

    @property
    def biomarker(self) -> dict[str, Any] | None:
        """The normalised biomarker spec (``name``, ``units``, ...), or None."""
        return None if self._biomarker is None else self.to_dict()["biomarker"]

    def to_dict(self) -> dict[str, Any]:
        """Return the normalised, JSON-able spec.

        Every state appears in ``division`` and ``death`` (0.0 when absent from the input); a rate
        equal under every exposure is written as one number (always a full table when the model
        has modulators), otherwise as a full ``{exposure: rate}`` table; ``exposures`` is always
        explicit.
        ``Model.from_dict(m.to_dict()) == m``.
        """
        exps = self._exposures

        def table(t: Table) -> float | dict[str, float]:
            # With modulators a single number would mean "derive the modulated exposures", so
            # derived values are written out explicitly.
            if self._modulators:
                return dict(zip(exps, t, strict=True))
            return _table_to_spec(t, exps)

        states: list[Any] = [
            {"name": s, "genetic": True} if g else s
            for s, g in zip(self._states, self._genetic, strict=True)
        ]
        out: dict[str, Any] = {
            "states": states,
            "exposures": list(exps),
            "division": {s: table(t) for s, t in zip(self._states, self._division, strict=True)},
            "death": {s: table(t) for s, t in zip(self._states, self._death, strict=True)},
            "switch": [
                {"from": self._states[i], "to": self._states[j], "rate": table(t)}
                for i, j, t in self._switch
            ],
            "mutation": [
                {
                    "from": self._states[i],
                    "to": self._states[j],
                    "probability": table(t),
                }
                for i, j, t in self._mutation
            ],
        }
        if self._capacity is not None:
            out["capacity"] = self.capacity
        if self._competition is not None:
            comp = self._competition
            states_out: dict[str, Any] = {}
            for i, k0, per_cell, alpha in comp.rows:
                states_out[self._states[i]] = {
                    "K": table(k0),
                    "K_per_cell": {
                        self._states[j]: table(t) for j, t in enumerate(per_cell) if any(t)
                    },
                    "alpha": {self._states[j]: table(t) for j, t in enumerate(alpha) if any(t)},
                }
            out["competition"] = {"on": comp.on, "states": states_out}
        if self._biomarker is not None:
            bm = self._biomarker
            out["biomarker"] = {
                "name": bm.name,
                "units": bm.units,
                "production": {
                    s: table(t) for s, t in zip(self._states, bm.production, strict=True)
                },
                "decay": bm.decay,
                "initial": bm.initial,
            }
        if self._modulators:
            out["modulators"] = json.loads(json.dumps(self._modulators))
        return out

    def to_json(self) -> str:
        """Return the normalised spec as a JSON string (the ``model`` attribute of outputs)."""
        return json.dumps(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return (
            f"Model(states={list(self._states)!r}, exposures={list(self._exposures)!r}, "
            f"n_channels={len(self._channels())})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Model.from_dict, (self.to_dict(),))

    # ------------------------------------------------------------------ compilation

    def _channels(self) -> list[_Channel]:
        """Reaction channels: (source, dec, inc, kind, mutation, rates per exposure, label,
        process, target state or ""); dec and inc are -1 for none."""
        names = self._states
        n_exp = len(self._exposures)
        chans: list[_Channel] = []
        for i, s in enumerate(names):
            b = self._division[i]
            muts = [(j, p) for (k, j, p) in self._mutation if k == i]
            p_total = [sum(p[e] for _, p in muts) for e in range(n_exp)]
            plain = tuple(max(0.0, b[e] * (1.0 - p_total[e])) for e in range(n_exp))
            chans.append((i, -1, i, KIND_DIVISION, False, plain, f"{s}->2{s}", "division", ""))
            for j, p in muts:
                rates = tuple(b[e] * p[e] for e in range(n_exp))
                chans.append(
                    (
                        i,
                        -1,
                        j,
                        KIND_DIVISION,
                        True,
                        rates,
                        f"{s}->{s}+{names[j]}",
                        "mutation",
                        names[j],
                    )
                )
            chans.append((i, i, -1, KIND_DEATH, False, self._death[i], f"{s}->0", "death", ""))
            for k, j, r in self._switch:
                if k == i:
                    label = f"{s}->{names[j]}"
                    chans.append(
                        (i, i, j, KIND_SWITCH, self._genetic[j], r, label, "switch", names[j])
                    )
        # With density-dependent death (d + (b - d)·x) a death channel matters even at d = 0.
        keep_death: set[int] = set()
        if self._capacity is not None and self._capacity[1] in ("death", DEATH_ADDITIVE):
            keep_death = set(range(len(names)))
        if self._competition is not None and self._competition.on == "death":
            keep_death = {row[0] for row in self._competition.rows}
        return [
            c
            for c in chans
            if any(x > 0.0 for x in c[5]) or (c[3] == KIND_DEATH and c[0] in keep_death)
        ]

    def channel_names(self) -> list[str]:
        """Labels of the compiled reaction channels, in engine order.

        E.g. ``"S->2S"`` (division), ``"S->S+R"`` (mutation at division), ``"S->0"`` (death),
        ``"S->P"`` (switch). Channels with rate 0 under every exposure are omitted (death
        channels are kept when the capacity or competition acts on death).
        """
        return [c[6] for c in self._channels()]

    def channel_processes(self) -> list[tuple[str, str, str | None]]:
        """The process of each compiled channel (engine order), as ``(process, source, target)``.

        ``process`` is ``"division"`` (plain division), ``"mutation"`` (mutation at division of
        ``source``, one daughter becomes ``target``), ``"death"`` or ``"switch"``; ``target`` is
        None for division and death.
        """
        return [(c[7], self._states[c[0]], c[8] or None) for c in self._channels()]

    def has_transition(self, process: str, source: str, target: str) -> bool:
        """True if the model declares the ``"switch"`` or ``"mutation"`` from source to target."""
        table = self._switch if process == "switch" else self._mutation
        if source not in self._states or target not in self._states:
            return False
        i, j = self._states.index(source), self._states.index(target)
        return any((a, b) == (i, j) for a, b, _ in table)

    @property
    def modulators(self) -> tuple[dict[str, Any], ...]:
        """The normalised modulator specs (empty without modulators)."""
        return tuple(json.loads(json.dumps(self._modulators)))

    def compile(self) -> "ModelSpec":
        """Compile to the engine's flat reaction table (the ``model`` dict of ``_core``).

        Channels are grouped by source state in model order. For each state ``i``: one division
        channel at rate ``b_i·(1 − Σ_j p_ij)``; one channel per mutation target ``j`` at rate
        ``b_i·p_ij`` (one daughter becomes ``j``); one death channel; one channel per switch
        ``i → j`` (a mutation event iff ``j`` is genetic). Channels whose rate is 0 under every
        exposure are dropped, except death channels when the capacity acts on death.
        ``channels`` holds one dict per channel and ``channel_rate`` is exposure-major
        (``ModelSpec`` in ``_core.pyi``). This format is private to the package and may change.
        """
        chans = self._channels()
        n_exp = len(self._exposures)
        cap = self._capacity
        return {
            "n_states": len(self._states),
            "state_names": list(self._states),
            "n_exposures": n_exp,
            "channels": [
                {
                    "source": c[0],
                    "dec": None if c[1] < 0 else c[1],
                    "inc": None if c[2] < 0 else c[2],
                    "kind": c[3],
                    "mutation": bool(c[4]),
                }
                for c in chans
            ],
            "channel_rate": [c[5][e] for e in range(n_exp) for c in chans],
            "capacity": None if cap is None else cap[0],
            "capacity_on": "division" if cap is None else cast("_DensityTarget", cap[1]),
            "capacity_weights": [1.0] * len(self._states) if cap is None else list(cap[2]),
            "capacity_slope": [] if cap is None else list(cap[3]),
            "competition": None if self._competition is None else self._competition.compile(n_exp),
            "biomarker": None if self._biomarker is None else self._biomarker.compile(n_exp),
        }
