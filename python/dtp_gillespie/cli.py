"""Command-line interface: ``dtp-gillespie run [CONFIG.toml] --out run.zarr``,
``dtp-gillespie summary run.zarr [--csv table.csv]``, ``dtp-gillespie report run.zarr`` and
``dtp-gillespie protocol FILE.toml --out results.zarr`` (:mod:`dtp_gillespie.protocol`).

A config is a TOML file with ``[model]``, ``[run]`` and either one ``[schedule]`` (written at the
root of the output store) or a table of named ``[schedules.NAME]`` (one zarr group per name). The
``[run]`` keys are the keyword arguments of :func:`dtp_gillespie.simulate`: ``initial``, ``t_end``,
``record_every`` or ``times``, ``n_replicates``, ``seed``, ``max_events``, ``max_population``,
``replicate_offset``, ``progression`` (e.g. ``progression = { factor = 2.0, min_size = 1000 }``).
Every schedule kind works from TOML (``continuous``, ``intermittent``, ``piecewise``,
``combination``, ``adaptive``, ``pk``). Without a config the bundled example
``examples/default.toml`` runs.

Exit status: 0 on success, 2 on an invalid config or command line or a file-system error such as
a read-only ``--out`` (``error: ...`` on stderr, no traceback), 130 when interrupted (an
interrupted ``run`` prints the ``--resume`` command that finishes it).
"""

import argparse
import json
import os
import re
import shlex
import sys
import time
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np
import pandas as pd
import xarray as xr

from . import conventions as cv
from . import summary
from ._checks import check_count
from ._options import RUN_OPTIONS
from ._seeding import normalise_seed
from ._store_status import stored_seed, unfinished_schedules_note
from .errors import DtpGillespieError, InvalidModelError, InvalidRunError, InvalidScheduleError
from .io import mark_complete, mark_incomplete
from .model import Model
from .protocol._cli import add_protocol_command
from .schedule import Schedule
from .simulate import simulate
from .store_safety import check_store_path, delete_run_store

__all__ = ["load_config", "main"]

_TOP_KEYS = ("model", "schedule", "schedules", "run")
# Every run option but n_threads, which --threads sets.
_RUN_KEYS = tuple(k for k in RUN_OPTIONS if k != "n_threads")
_EXAMPLE = "examples/default.toml"


class _ConfigError(DtpGillespieError):
    """A config file is unreadable or malformed (not a model/schedule/run value error)."""


def _version() -> str:
    from . import __version__

    return __version__


def _read_toml(config: str | None) -> tuple[dict[str, Any], str]:
    if config is None:
        ref = resources.files("dtp_gillespie").joinpath(_EXAMPLE)
        text = ref.read_text(encoding="utf-8")
        source = f"bundled example {_EXAMPLE}"
    else:
        try:
            text = Path(config).read_text(encoding="utf-8")
        except OSError as exc:
            raise _ConfigError(f"cannot read {config}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise _ConfigError(
                f"cannot read {config}: not a UTF-8 text file (byte {exc.object[exc.start]:#04x} "
                f"at position {exc.start}); a config is a TOML file"
            ) from None
        source = config
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise _ConfigError(f"{source}: invalid TOML: {exc}") from None


def load_config(
    data: Mapping[str, Any],
) -> tuple[Model, dict[str, Schedule] | Schedule, dict[str, Any]]:
    """Parse a config (as read from TOML) into a model, the schedule(s) and the run options.

    Parameters
    ----------
    data : mapping
        The config: ``model``, ``run`` and exactly one of ``schedule`` / ``schedules``.

    Returns
    -------
    model : Model
    schedules : Schedule or dict of str to Schedule
        One Schedule for ``[schedule]``, a dict of named Schedules for ``[schedules]``.
    run : dict
        Keyword arguments for :func:`~dtp_gillespie.simulate`.

    Raises
    ------
    InvalidModelError, InvalidScheduleError, InvalidRunError
        If any part is invalid (every schedule is validated against the model).
    """
    for key in data:
        if key not in _TOP_KEYS:
            allowed = ", ".join(f"[{k}]" for k in _TOP_KEYS)
            raise _ConfigError(f"unknown table [{key}] in config; allowed: {allowed}")
    if "model" not in data:
        raise InvalidModelError("config has no [model] table")
    model = Model.from_dict(data["model"])
    if ("schedule" in data) == ("schedules" in data):
        raise InvalidScheduleError(
            "config needs exactly one of [schedule] (one schedule) or [schedules.NAME] tables"
        )
    run = data.get("run", {})
    if not isinstance(run, Mapping):
        raise InvalidRunError("[run] must be a table")
    t_end = run.get("t_end")
    t_end = t_end if isinstance(t_end, int | float) and not isinstance(t_end, bool) else None
    t_end = t_end if t_end is not None and t_end > 0 and t_end < float("inf") else None
    schedules: dict[str, Schedule] | Schedule
    if "schedule" in data:
        schedules = Schedule.from_dict(data["schedule"])
        schedules.validate(model, t_end)
    else:
        table = data["schedules"]
        if not isinstance(table, Mapping) or not table:
            raise InvalidScheduleError("[schedules] must hold at least one [schedules.NAME] table")
        schedules = {}
        for name, spec in table.items():
            _check_schedule_name(name)
            try:
                sched = Schedule.from_dict(spec)
                sched.validate(model, t_end)
            except InvalidScheduleError as exc:
                raise InvalidScheduleError(f"schedule {name!r}: {exc}") from None
            schedules[name] = sched
    for key in run:
        if key not in _RUN_KEYS:
            raise InvalidRunError(
                f"unknown key {key!r} in [run]; allowed keys: {', '.join(_RUN_KEYS)}"
            )
    for key in ("initial", "t_end"):
        if key not in run:
            raise InvalidRunError(f"[run] has no {key!r}")
    return model, schedules, dict(run)


_SCHEDULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_SCHEDULE_NAME_RULE = (
    "a schedule name is 1 to 100 ASCII letters, digits, '_', '-' and '.', starting with a "
    "letter or digit, and not 'zarr.json'"
)


def _check_schedule_name(name: str) -> None:
    """A schedule name becomes a zarr group, i.e. a directory of the store: portable file-name
    characters only, and not the name of zarr's own metadata file (in any case, for
    case-insensitive file systems)."""
    if _SCHEDULE_NAME.fullmatch(name) is None or name.lower() == "zarr.json":
        raise InvalidScheduleError(
            f"schedule name {name!r} cannot name a zarr group: {_SCHEDULE_NAME_RULE}"
        )


def _is_zarr_store(path: str) -> bool:
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, f)) for f in ("zarr.json", ".zgroup", ".zattrs")
    )


def _fraction(k: int, n: int) -> str:
    """``k`` of ``n`` replicates as a percentage, e.g. ``6.2% (62 of 1000)``."""
    return f"{100.0 * k / n:.1f}% ({k} of {n})" if n else f"- ({k} of {n})"


def _final_counts(ds: xr.Dataset) -> np.ndarray:
    """Counts at the last record time, (replicate, cell_state); -1 where unknown (capped)."""
    # Summary mode (--summary-only) keeps final_count instead of count.
    if summary.FINAL_COUNT in ds:
        return np.asarray(ds[summary.FINAL_COUNT].values)
    return np.asarray(ds[cv.COUNT].isel({cv.TIME: -1}).values)


def _summarise(name: str | None, ds: xr.Dataset, wall: float | None, out: TextIO) -> None:
    """Print the summary block of one run (``wall``: its wall time, None for a stored run)."""
    n = ds.sizes[cv.REPLICATE]
    states = [str(s) for s in ds[cv.CELL_STATE].values]
    final = _final_counts(ds)
    status = ds[cv.STATUS].values
    known = np.all(final >= 0, axis=1)
    title = f"schedule {name!r}" if name else "run"
    t_end = float(ds[cv.TIME].values[-1])
    print(f"{title}: {n} replicates, t = {t_end:g} {cv.TIME_UNITS}", file=out)
    if known.any():
        head = "  final counts" + ("" if known.all() else f" ({int(known.sum())} uncapped)")
        print(f"{head}:", file=out)
        print(f"    {'state':<10}{'mean':>14}{'median':>14}", file=out)
        for j, s in enumerate(states):
            col = final[known, j]
            print(f"    {s:<10}{np.mean(col):>14.6g}{np.median(col):>14.6g}", file=out)
    ext = np.isfinite(ds[cv.EXTINCTION_TIME].values)
    print(f"  extinct: {_fraction(int(ext.sum()), n)}", file=out)
    fm = ds[cv.FIRST_MUTANT_TIME].values
    has = np.isfinite(fm)
    line = f"  with a mutant: {_fraction(int(has.sum()), n)}"
    if has.any():
        line += f", median first-mutant time {np.median(fm[has]):.4g} {cv.TIME_UNITS}"
    print(line, file=out)
    counts = ", ".join(
        f"{label} {int(np.count_nonzero(status == code))}"
        for label, code in cv.STATUS_CODES.items()
    )
    print(f"  status: {counts}", file=out)
    _summarise_treatment(ds, out)
    _summarise_probabilities(ds, out)
    capped = int(np.isin(status, cv.STATUS_CAPPED).sum())
    if capped:
        print(
            f"  note: {capped} replicates stopped at a cap; their counts after stop_time are "
            f"{cv.COUNT_UNKNOWN}",
            file=out,
        )
    events = int(ds[cv.N_EVENTS].values.sum())
    if wall is None:
        print(f"  {events:,} events", file=out)
        return
    rate = events / wall if wall > 0 else float("inf")
    print(f"  wall time {wall:.3g} s, {events:,} events, {rate:,.3g} events/s", file=out)


def _summarise_treatment(ds: xr.Dataset, out: TextIO) -> None:
    """Time on drug, switches and progression (adaptive, pk and progression-tracking runs)."""
    n = ds.sizes[cv.REPLICATE]
    if cv.TIME_ON_DRUG in ds:
        on = ds[cv.TIME_ON_DRUG].values
        on = on[np.isfinite(on)]
        if on.size:
            print(
                f"  time on drug: mean {np.mean(on):.4g}, median {np.median(on):.4g} "
                f"{cv.TIME_UNITS}",
                file=out,
            )
    if cv.N_SWITCHES in ds:
        sw = ds[cv.N_SWITCHES].values
        print(f"  exposure switches: mean {np.mean(sw):.4g}, max {int(np.max(sw))}", file=out)
    if cv.AUC_RESPONSE in ds:
        print(
            f"  drug (pk): mean area under the concentration "
            f"{np.mean(ds[cv.AUC_CONCENTRATION].values):.4g}, under the response "
            f"{np.mean(ds[cv.AUC_RESPONSE].values):.4g} {cv.TIME_UNITS}",
            file=out,
        )
    run = json.loads(ds.attrs.get(cv.ATTR_RUN, "{}"))
    if run.get("progression") is not None and cv.PROGRESSION_TIME in ds:
        pt = ds[cv.PROGRESSION_TIME].values
        has = np.isfinite(pt)
        line = f"  progressed: {_fraction(int(has.sum()), n)}"
        # Median time to progression over all replicates (never progressed = later than any).
        ranked = np.sort(np.where(has, pt, np.inf))
        median = ranked[(n - 1) // 2] if n % 2 else 0.5 * (ranked[n // 2 - 1] + ranked[n // 2])
        if np.isfinite(median):
            line += f", median time to progression {median:.4g} {cv.TIME_UNITS}"
        else:
            line += f", median time to progression not reached by t = {ds[cv.TIME].values[-1]:g}"
        print(line, file=out)


def _summarise_probabilities(ds: xr.Dataset, out: TextIO) -> None:
    """P(event by t_end) with its 95% interval for each tracked event (dtp_gillespie.analysis)."""
    from .analysis import Event, probability_by

    run = json.loads(ds.attrs.get(cv.ATTR_RUN, "{}"))
    # The names of conventions, which probability_by takes as its Event literals.
    tracked = (cv.FIRST_MUTANT_TIME, cv.EXTINCTION_TIME)
    events = [cast("Event", e) for e in tracked if e in ds]
    if run.get("progression") is not None and cv.PROGRESSION_TIME in ds:
        events.insert(0, cv.PROGRESSION_TIME)
    t_end = float(ds[cv.TIME].values[-1])
    print(f"  probability by t = {t_end:g} {cv.TIME_UNITS} [95% CI]:", file=out)
    for event in events:
        p = probability_by(ds, t_end, event)
        method = str(p["method"].values.reshape(-1)[0])
        what = event.removesuffix("_time").replace("_", " ")
        print(
            f"    {what:<14}{float(p['probability']):.4g} "
            f"[{float(p['lower']):.4g}, {float(p['upper']):.4g}] ({method})",
            file=out,
        )


def _stored_seed(out: str, schedules: Schedule | Mapping[str, Schedule]) -> Any:
    """The seed recorded in an interrupted store (--resume without --seed; every schedule's group
    records the same), or None."""
    groups = [None] if isinstance(schedules, Schedule) else list(schedules)
    for group in groups:
        seed = stored_seed(out, group=group)
        if seed is not None:
            return seed
    return None


def _cmd_run(args: argparse.Namespace) -> int:
    data, source = _read_toml(args.config)
    model, schedules, run = load_config(data)
    if args.replicates is not None:
        run["n_replicates"] = args.replicates
    if args.seed is not None:
        run["seed"] = args.seed
    out = check_store_path(args.out)  # before anything touches the disk
    # --- large ensembles: streamed --out, --resume (dtp_gillespie.stream) ---
    if args.resume and args.overwrite:
        raise _ConfigError("--resume and --overwrite exclude each other")
    if run.get("seed") is None and args.resume:
        run["seed"] = _stored_seed(out, schedules)
    # --- end large ensembles ---
    if run.get("seed") is None:
        # One fresh seed shared by every schedule (common random numbers), recorded in each.
        run["seed"] = normalise_seed(None).attrs["seed"]
    if os.path.lexists(out):
        if not args.overwrite and not args.resume:
            raise _ConfigError(
                f"{out} exists; choose another --out, pass --resume to finish an interrupted "
                "run or --overwrite"
            )
        if not _is_zarr_store(out):
            raise _ConfigError(f"{out} exists and is not a zarr store; refusing to overwrite it")
        if args.overwrite:
            delete_run_store(out)  # only a store of dtp-gillespie runs
    named: list[tuple[str | None, Schedule]] = (
        [(None, schedules)] if isinstance(schedules, Schedule) else list(schedules.items())
    )
    print(f"dtp-gillespie {_version()}: {source} -> {out}", file=sys.stderr)
    results: list[tuple[str | None, xr.Dataset, float]] = []
    for k, (name, sched) in enumerate(named):
        note = unfinished_schedules_note([str(n) for n, _ in named[k:]], _resume_command(args))
        if name is not None:  # until the last group is written, the root names those not
            mark_incomplete(out, note)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            ds = simulate(
                model,
                sched,
                n_threads=args.threads,
                progress=False if args.no_progress else (name or "simulate"),
                store=out,
                group=name,
                resume=args.resume,
                summary_only=args.summary_only,
                **run,
            )
        wall = time.perf_counter() - t0
        for w in caught:
            prefix = f"schedule {name!r}: " if name else ""
            print(f"warning: {prefix}{w.message}", file=sys.stderr)
        results.append((name, ds, wall))
    if not isinstance(schedules, Schedule):
        mark_complete(out)
    for name, ds, wall in results:
        _summarise(name, ds, wall, sys.stdout)
    where = ", ".join(f"group {n!r}" for n, _, _ in results if n) or "store root"
    print(f"wrote {out} ({where})", file=sys.stdout)
    return 0


# --- summary: the run's summary again, and its per-replicate table ---
def _replicate_table(name: str | None, ds: xr.Dataset) -> pd.DataFrame:
    """One row per replicate: the group (for a named schedule), every per-replicate variable
    (``status`` by name) and the final count of each state (empty where unknown after a cap)."""
    per_replicate = [v for v in ds.data_vars if ds[v].dims == (cv.REPLICATE,)]
    table = ds[per_replicate].reset_coords(drop=True).to_dataframe()
    if cv.STATUS in table:
        names = {code: label for label, code in cv.STATUS_CODES.items()}
        table[cv.STATUS] = [names.get(int(c), str(int(c))) for c in table[cv.STATUS]]
    final = _final_counts(ds)
    for j, state in enumerate(str(x) for x in ds[cv.CELL_STATE].values):
        col = pd.Series(final[:, j], index=table.index, dtype="Int64")
        table[f"final_{state}"] = col.mask(col < 0)  # -1 (unknown after a cap): empty
    table = table.reset_index()
    if name is not None:
        table.insert(0, "group", name)
    return table


def _cmd_summary(args: argparse.Namespace) -> int:
    from .plot import open_report_data  # the root run, or the runs of the store's groups

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        data = open_report_data(args.store, args.group)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    named = [(None, data)] if isinstance(data, xr.Dataset) else list(data.items())
    for name, ds in named:
        _summarise(name, ds, None, sys.stdout)
    if args.csv is not None:
        if os.path.lexists(args.csv) and not args.overwrite:
            raise _ConfigError(f"{args.csv} exists; choose another --csv or pass --overwrite")
        table = pd.concat([_replicate_table(name, ds) for name, ds in named], ignore_index=True)
        table.to_csv(args.csv, index=False)
        print(f"wrote {args.csv} ({len(table)} replicates)", file=sys.stdout)
    return 0


# --- end summary ---


def _resume_command(args: argparse.Namespace) -> str | None:
    """The command that finishes an interrupted ``run`` (None for other commands)."""
    if getattr(args, "command", None) != "run":
        return None
    cmd = ["dtp-gillespie", "run", *([args.config] if args.config else []), "--out", args.out]
    for flag, value in (("--replicates", args.replicates), ("--seed", args.seed)):
        if value is not None:
            cmd += [flag, str(value)]
    if args.summary_only:
        cmd.append("--summary-only")
    return shlex.join([*cmd, "--resume"])


def _replicates_option(text: str) -> int:
    """``--replicates``: a whole number, also as ``1e6`` (the same check as ``n_replicates``)."""
    try:
        value: object = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = text
    try:
        return check_count(value, "--replicates", 1)
    except InvalidRunError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dtp-gillespie",
        description="Exact stochastic simulation of drug-tolerant persister cells.",
    )
    p.add_argument("--version", action="version", version=f"dtp-gillespie {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run a config and write the ensemble to zarr",
        description="Run the model of CONFIG under each of its schedules and write a zarr store. "
        "Without CONFIG, runs the bundled example (S/P/R persister model, continuous vs "
        "intermittent dosing).",
    )
    run.add_argument("config", nargs="?", metavar="CONFIG.toml", help="config file (TOML)")
    run.add_argument(
        "--out", "-o", default="run.zarr", metavar="PATH", help="output store (default run.zarr)"
    )
    run.add_argument(
        "--replicates", "-n", type=_replicates_option, metavar="N", help="override n_replicates"
    )
    run.add_argument("--seed", type=int, metavar="S", help="override seed (int >= 0)")
    run.add_argument("--threads", "-t", type=int, metavar="T", help="worker threads (default all)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output store")
    run.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run in --out (same config and seed; blocks already written "
        "are kept)",
    )
    run.add_argument(
        "--summary-only",
        action="store_true",
        help="store per-replicate summaries and ensemble statistics over time (mean, variance, "
        "min, max, quantiles, extinct and progressed fractions) instead of full trajectories",
    )
    run.set_defaults(func=_cmd_run)
    summ = sub.add_parser(
        "summary",
        help="print the summary of a stored run again; --csv writes its per-replicate table",
        description="Print the summary that run printed (one block per schedule group) for a "
        "store written by run or simulate; --csv writes one row per replicate and group: the "
        "per-replicate variables and the final count of each state.",
    )
    summ.add_argument("store", metavar="RUN.zarr", help="zarr store written by run or simulate")
    summ.add_argument(
        "--group", "-g", action="append", metavar="NAME", help="group to summarise (repeatable)"
    )
    summ.add_argument("--csv", metavar="PATH", help="write the per-replicate table as CSV")
    summ.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")
    summ.set_defaults(func=_cmd_summary)
    # --- report: one-page plots and tables of a stored run (dtp_gillespie.plot) ---
    rep = sub.add_parser(
        "report",
        help="write a one-page report (PNG or PDF) of a stored run",
        description="Fan charts, Kaplan-Meier curves (progression, first mutant, extinction) and "
        "a table (extinction probability, median times, log-rank test) of a stored run; a store "
        "with one group per schedule is reported side by side.",
    )
    rep.add_argument("store", metavar="RUN.zarr", help="zarr store written by run or simulate")
    rep.add_argument(
        "--out", "-o", default="report.png", metavar="PATH", help="output file (.png, .pdf, ...)"
    )
    rep.add_argument(
        "--group", "-g", action="append", metavar="NAME", help="group to report (repeatable)"
    )
    rep.add_argument(
        "--endpoint",
        choices=["progression_time", "first_mutant_time", "extinction_time"],
        help="event of the table's probability by t and median time (default: progression_time "
        "if the run tracks progression, else first_mutant_time)",
    )
    rep.add_argument(
        "--at",
        type=float,
        metavar="DAYS",
        help="time of the table's probability of the endpoint (default: t_end)",
    )
    rep.set_defaults(func=_cmd_report)
    # --- end report ---
    add_protocol_command(sub)
    return p


# --- report (dtp_gillespie.plot) ---
def _cmd_report(args: argparse.Namespace) -> int:
    from .plot._common import _DPI, _pyplot
    from .plot._report import _report_figure, left_out_note, open_report_data

    data = open_report_data(args.store, args.group)
    # Input errors keep their own messages.
    fig = _report_figure(data, title=None, log=True, endpoint=args.endpoint, at=args.at)
    note = left_out_note(data)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    try:
        fig.savefig(args.out, dpi=_DPI)
    except (ValueError, OSError) as exc:  # e.g. an unknown file extension or unwritable path
        raise _ConfigError(f"cannot write the report {args.out}: {exc}") from None
    finally:
        _pyplot().close(fig)
    print(f"wrote {args.out}", file=sys.stdout)
    return 0


# --- end report ---


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dtp-gillespie`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DtpGillespieError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = _resume_command(args)
        print("interrupted", file=sys.stderr)
        if resume is not None:
            print(
                f"the blocks already written are kept in {args.out}; finish the run with:\n"
                f"  {resume}",
                file=sys.stderr,
            )
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:  # the file system refused: a read-only --out, a full disk, ...
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # e.g. a report of a store larger than memory
        print(f"error: out of memory: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
