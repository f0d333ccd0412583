"""Protocols declared in TOML, in the layout of the ``run`` command's configs.

::

    [model]                     # as in a run config
    ...
    [schedules.expand]          # named schedules the steps refer to
    kind = "continuous"
    exposure = "off"

    [protocol]
    initial = { S = 500 }
    barcodes = "founders"       # or a library size B, or omitted for none

    [[protocol.steps]]
    step = "grow"
    schedule = "expand"
    duration = 4.0

    [[protocol.steps]]
    step = "split"
    flasks = 2

    [run]                       # optional: keywords of Protocol.run
    n_replicates = 100
    seed = 1
"""

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidModelError, InvalidRunError, InvalidScheduleError
from ._protocol import Protocol

__all__ = ["RUN_KEYS", "load_protocol", "protocol_from_config"]

_TOP_KEYS = ("model", "schedules", "protocol", "run")
_PROTOCOL_KEYS = ("initial", "barcodes", "steps")
RUN_KEYS = ("n_replicates", "seed", "replicate_offset", "max_events", "max_population")
"""Keys of ``[run]``: keywords of :meth:`Protocol.run` (``n_threads`` and ``block_size`` are
the machine's business: the command line's ``--threads``)."""


def protocol_from_config(data: Mapping[str, Any]) -> tuple[Protocol, dict[str, Any]]:
    """The protocol of a config (as read from TOML) and its ``[run]`` options."""
    for key in data:
        if key not in _TOP_KEYS:
            allowed = ", ".join(f"[{k}]" for k in _TOP_KEYS)
            raise InvalidRunError(f"unknown table [{key}] in protocol file; allowed: {allowed}")
    if "model" not in data:
        raise InvalidModelError("protocol file has no [model] table")
    spec = data.get("protocol")
    if not isinstance(spec, Mapping):
        raise InvalidRunError("protocol file has no [protocol] table")
    _refuse_unknown_keys(spec, _PROTOCOL_KEYS, "[protocol]")
    if "initial" not in spec:
        raise InvalidRunError("[protocol] has no 'initial'")
    schedules = data.get("schedules", {})
    if not isinstance(schedules, Mapping):
        raise InvalidScheduleError("[schedules] must hold [schedules.NAME] tables")
    steps = spec.get("steps", [])
    if not isinstance(steps, list):
        raise InvalidRunError("[protocol] steps must be a list of [[protocol.steps]] tables")
    for i, step in enumerate(steps):
        name = step.get("schedule") if isinstance(step, Mapping) else None
        if isinstance(name, str) and name not in schedules:
            raise InvalidScheduleError(
                f"steps[{i}].schedule is {name!r}; the file's schedules are "
                f"{sorted(schedules) or 'none'} (declare it as [schedules.{name}])"
            )
    proto = Protocol(
        data["model"],
        initial=spec["initial"],
        barcodes=spec.get("barcodes"),
        schedules=schedules,
        steps=steps,
    )
    run = data.get("run", {})
    if not isinstance(run, Mapping):
        raise InvalidRunError("[run] must be a table")
    _refuse_unknown_keys(run, RUN_KEYS, "[run]")
    return proto, dict(run)


def _refuse_unknown_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise InvalidRunError(
                f"unknown key {key!r} in {where}; allowed keys: {', '.join(allowed)}"
            )


def read_toml(source: "str | os.PathLike[str]") -> dict[str, Any]:
    """The TOML of a file, or of a string holding TOML text (it has a newline)."""
    if isinstance(source, str) and "\n" in source:
        text, where = source, "protocol text"
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidRunError(f"cannot read {source}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise InvalidRunError(f"cannot read {source}: not a UTF-8 TOML file") from None
        where = str(source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRunError(f"{where}: invalid TOML: {exc}") from None


def load_protocol(source: "str | os.PathLike[str]") -> tuple[Protocol, dict[str, Any]]:
    """The protocol and ``[run]`` options of a TOML file or text."""
    return protocol_from_config(read_toml(source))
