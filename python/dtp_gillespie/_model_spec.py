"""Parsing the structure of a model spec: states, exposures, modulators, per-state rates,
switches and mutations (module doc of :mod:`dtp_gillespie.model`).
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._checks import is_real, to_float
from ._spec_values import (
    _PROB_SUM_TOL,
    DEFAULT_EXPOSURES,
    Table,
    _check_keys,
    _check_name,
    _fmt,
    _Modulation,
    _parse_table,
)
from .errors import InvalidModelError

_MODULATOR_KEYS: Final = ("drug", "base", "effects")


_EFFECT_PROCESSES: Final = ("division", "death", "switch", "mutation")


_STATE_KEYS: Final = ("name", "genetic")


_SWITCH_KEYS: Final = ("from", "to", "rate")


_MUTATION_KEYS: Final = ("from", "to", "probability")


def parse_states(states: object) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    if isinstance(states, str | bytes) or not isinstance(states, Sequence):
        raise InvalidModelError(
            f"states must be a list of names or {{name, genetic}} tables, got {_fmt(states)}"
        )
    if not states:
        raise InvalidModelError("states is empty; a model needs at least one state")
    names: list[str] = []
    genetic: list[bool] = []
    for i, entry in enumerate(states):
        if isinstance(entry, Mapping):
            _check_keys(entry, _STATE_KEYS, f"states[{i}]")
            if "name" not in entry:
                raise InvalidModelError(f"states[{i}] has no 'name'")
            name = _check_name(entry["name"], f"states[{i}].name")
            g = entry.get("genetic", False)
            if not isinstance(g, bool):
                raise InvalidModelError(
                    f"genetic of state {name!r} is {_fmt(g)}; expected true or false"
                )
        else:
            name = _check_name(entry, f"states[{i}]")
            g = False
        if name in names:
            raise InvalidModelError(f"duplicate state name {name!r} in states")
        names.append(name)
        genetic.append(g)
    return tuple(names), tuple(genetic)


def parse_exposures(exposures: object) -> tuple[str, ...]:
    if exposures is None:
        return DEFAULT_EXPOSURES
    if isinstance(exposures, str | bytes) or not isinstance(exposures, Sequence):
        raise InvalidModelError(f"exposures must be a list of names, got {_fmt(exposures)}")
    if not exposures:
        raise InvalidModelError("exposures is empty; a model needs at least one exposure")
    out: list[str] = []
    for i, e in enumerate(exposures):
        name = _check_name(e, f"exposures[{i}]")
        if name in out:
            raise InvalidModelError(f"duplicate exposure name {name!r} in exposures")
        out.append(name)
    if len(out) > 127:
        raise InvalidModelError(f"a model has at most 127 exposures, got {len(out)}")
    return tuple(out)


def parse_modulators(
    spec: object, states: tuple[str, ...], exposures: tuple[str, ...]
) -> tuple[tuple[dict[str, Any], ...], _Modulation]:
    if spec is None:
        return (), _Modulation(exposures, {})
    if isinstance(spec, str | bytes | Mapping) or not isinstance(spec, Sequence):
        raise InvalidModelError(
            f"modulators must be a list of {{drug, base, effects}} tables, got {_fmt(spec)}"
        )
    drugs: dict[str, tuple[str, dict[tuple[str, int, int], float]]] = {}
    normalised: list[dict[str, Any]] = []
    for n, entry in enumerate(spec):
        where = f"modulators[{n}]"
        if not isinstance(entry, Mapping):
            raise InvalidModelError(f"{where} must be a table {{drug, base, effects}}")
        _check_keys(entry, _MODULATOR_KEYS, where)
        if "drug" not in entry:
            raise InvalidModelError(f"{where} has no 'drug'")
        drug = _check_name(entry["drug"], f"{where}.drug")
        if "+" in drug:
            raise InvalidModelError(f"{where}.drug {drug!r} must not contain '+'")
        if drug in drugs:
            raise InvalidModelError(f"duplicate modulator {drug!r} in modulators")
        if not any(drug in e.split("+") for e in exposures):
            raise InvalidModelError(
                f"{where}.drug {drug!r} is part of no exposure (exposures: {list(exposures)}); "
                "name the combinations that contain it, e.g. 'A+" + drug + "'"
            )
        base = entry.get("base", "off")
        if not isinstance(base, str) or base not in exposures or drug in base.split("+"):
            alone = drug in exposures
            if alone or "base" in entry:
                raise InvalidModelError(
                    f"{where}.base is {_fmt(base)}; it must be an exposure of the model "
                    f"without {drug!r} (the exposure {drug!r} alone is derived from it; "
                    f"exposures: {list(exposures)})"
                )
        effects_spec = entry.get("effects", [])
        if isinstance(effects_spec, str | bytes | Mapping) or not isinstance(
            effects_spec, Sequence
        ):
            raise InvalidModelError(f"{where}.effects must be a list of tables")
        effects: dict[tuple[str, int, int], float] = {}
        norm_effects: list[dict[str, Any]] = []
        for k, eff in enumerate(effects_spec):
            ew = f"{where}.effects[{k}]"
            if not isinstance(eff, Mapping):
                raise InvalidModelError(f"{ew} must be a table {{process, ..., factor}}")
            process = eff.get("process")
            if process not in _EFFECT_PROCESSES:
                raise InvalidModelError(
                    f"{ew}.process is {_fmt(process)}; expected one of "
                    f"{', '.join(_EFFECT_PROCESSES)}"
                )
            ends = ("state",) if process in ("division", "death") else ("from", "to")
            _check_keys(eff, ("process", *ends, "factor"), ew)
            idx = []
            for key in ends:
                if key not in eff:
                    raise InvalidModelError(f"{ew} ({process}) has no {key!r}")
                if eff[key] not in states:
                    raise InvalidModelError(
                        f"{ew}.{key} is {_fmt(eff[key])}, not a state of the model "
                        f"(states: {list(states)})"
                    )
                idx.append(states.index(eff[key]))
            if "factor" not in eff:
                raise InvalidModelError(f"{ew} has no 'factor'")
            f = eff["factor"]
            if not is_real(f) or not (math.isfinite(to_float(f)) and to_float(f) >= 0):
                raise InvalidModelError(
                    f"{ew}.factor is {_fmt(f)}; it must be a finite number >= 0"
                )
            key3 = (str(process), idx[0], idx[1] if len(idx) > 1 else -1)
            if key3 in effects:
                raise InvalidModelError(f"{ew} repeats an earlier effect of {drug!r}")
            effects[key3] = float(f)
            norm_effects.append(
                {"process": process, **{k2: eff[k2] for k2 in ends}, "factor": float(f)}
            )
        drugs[drug] = (str(base), effects)
        normalised.append({"drug": drug, "base": str(base), "effects": norm_effects})
    return tuple(normalised), _Modulation(exposures, drugs)


def parse_per_state(
    spec: object,
    field: str,
    states: tuple[str, ...],
    exposures: tuple[str, ...],
    mod: _Modulation | None = None,
) -> tuple[Table, ...]:
    zero = (0.0,) * len(exposures)
    if spec is None:
        return (zero,) * len(states)
    if not isinstance(spec, Mapping):
        raise InvalidModelError(f"{field} must be a table {{state: rate}}, got {_fmt(spec)}")
    for key in spec:
        if key not in states:
            raise InvalidModelError(
                f"{field} names unknown state {key!r}; the model's states are {list(states)}"
            )
    return tuple(
        _parse_table(
            spec[s], f"{field} rate of state {s!r}", exposures, "rate", mod, (field, i, -1)
        )
        if s in spec
        else zero
        for i, s in enumerate(states)
    )


def parse_transitions(
    spec: object,
    field: str,
    states: tuple[str, ...],
    genetic: tuple[bool, ...],
    exposures: tuple[str, ...],
    mod: _Modulation | None = None,
) -> tuple[tuple[int, int, Table], ...]:
    if spec is None:
        return ()
    if isinstance(spec, str | bytes | Mapping) or not isinstance(spec, Sequence):
        raise InvalidModelError(
            f"{field} must be a list of {{from, to, ...}} tables, got {_fmt(spec)}"
        )
    keys = _SWITCH_KEYS if field == "switch" else _MUTATION_KEYS
    value_key = keys[2]
    kind = "rate" if field == "switch" else "probability"
    seen: set[tuple[int, int]] = set()
    out: list[tuple[int, int, Table]] = []
    for n, entry in enumerate(spec):
        where = f"{field}[{n}]"
        if not isinstance(entry, Mapping):
            raise InvalidModelError(f"{where} must be a table {{{', '.join(keys)}}}")
        _check_keys(entry, keys, where)
        for key in keys:
            if key not in entry:
                raise InvalidModelError(f"{where} has no {key!r}")
        ends = []
        for key in ("from", "to"):
            name = entry[key]
            if name not in states:
                raise InvalidModelError(
                    f"{where}.{key} is {_fmt(name)}, not a state of the model "
                    f"(states: {list(states)})"
                )
            ends.append(states.index(name))
        i, j = ends
        src, dst = states[i], states[j]
        if i == j:
            raise InvalidModelError(f"{where} goes from state {src!r} to itself")
        if genetic[i] and not genetic[j]:
            raise InvalidModelError(
                f"{field} from genetic state {src!r} to non-genetic state {dst!r} is not "
                "allowed: genetic states never revert"
            )
        if (i, j) in seen:
            raise InvalidModelError(
                f"duplicate {field} from {src!r} to {dst!r}; give each pair once"
            )
        seen.add((i, j))
        what = f"{field} {kind} from {src!r} to {dst!r}"
        table = _parse_table(entry[value_key], what, exposures, kind, mod, (field, i, j))
        out.append((i, j, table))
    return tuple(out)


def check_effect_targets(
    modulators: tuple[dict[str, Any], ...],
    states: tuple[str, ...],
    switch: tuple[tuple[int, int, Table], ...],
    mutation: tuple[tuple[int, int, Table], ...],
) -> None:
    """Every modulator effect on a switch or mutation names one the model declares."""
    pairs = {
        "switch": {(i, j) for i, j, _ in switch},
        "mutation": {(i, j) for i, j, _ in mutation},
    }
    for n, m in enumerate(modulators):
        for k, eff in enumerate(m["effects"]):
            proc = eff["process"]
            if proc in pairs:
                i, j = states.index(eff["from"]), states.index(eff["to"])
                if (i, j) not in pairs[proc]:
                    raise InvalidModelError(
                        f"modulators[{n}].effects[{k}] names the {proc} from {eff['from']!r} "
                        f"to {eff['to']!r}, which the model does not declare"
                    )


def check_mutation_sums(
    states: tuple[str, ...],
    exposures: tuple[str, ...],
    mutation: tuple[tuple[int, int, Table], ...],
) -> None:
    """Mutation probabilities out of one state sum to at most 1 under every exposure."""
    for i, src in enumerate(states):
        for e, exp in enumerate(exposures):
            total = sum(p[e] for (k, _, p) in mutation if k == i)
            if total > 1.0 + _PROB_SUM_TOL:
                raise InvalidModelError(
                    f"mutation probabilities from state {src!r} under exposure {exp!r} sum to "
                    f"{total!r}; they must sum to at most 1"
                )
