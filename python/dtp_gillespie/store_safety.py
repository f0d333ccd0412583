"""What dtp-gillespie may touch on disk: store paths, recognising its own stores, the writer's lock.

The rule (docs/large-ensembles.md, "What dtp-gillespie deletes"): the package deletes or overwrites
only a store, or a group of a store, that it recognises as its own (:func:`recognised_store`): one
holding a dtp-gillespie run, one holding runs in its groups (the CLI's one group per schedule), or
one holding nothing at all (an empty directory, a zarr group without attributes or members: a run
killed in its first instant). Everything else is refused with
:class:`~dtp_gillespie.errors.InvalidRunError` before anything is written.

A streamed run holds an exclusive lock on its group while it writes: the child group ``_lock``,
whose ``zarr.json`` is created atomically, already filled (a hard link that fails if the name
exists), and names the writer (host, pid, start time). A second writer is refused naming the
holder; the lock is removed when the run ends (also on an error or Ctrl-C), and a lock left by a
crash is recognised as stale when its process is gone (same host) and taken over. Object stores
reached through fsspec URLs have no atomic exclusive create, so no lock is taken there: two
writers of one URL are not detected.
"""

import contextlib
import datetime
import json
import os
import shutil
import socket
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from . import conventions as cv
from ._store_tree import LOCK_GROUP, REWRITE_PREFIX, remove_partials, walk_store
from .errors import InvalidRunError

__all__ = [
    "GROUPS_ATTR",
    "LOCK_GROUP",
    "check_group",
    "check_no_writer_below",
    "check_store_path",
    "checksummed_codecs",
    "clear_group",
    "delete_run_store",
    "describe",
    "drop_consolidated",
    "exists",
    "is_blank",
    "is_run",
    "open_group",
    "recognised_store",
    "run_groups",
    "storage_kwargs",
    "store_lock",
    "tidy_killed_writes",
]


GROUPS_ATTR = "groups"
"""Attribute of a store's root that holds runs in its groups: the paths of those groups."""

_RUN_ATTRS = (cv.ATTR_SCHEMA_VERSION, cv.ATTR_MODEL, cv.ATTR_RUN)
"""Global attributes every dtp-gillespie run carries (simulate, sweep, streamed stores)."""
_UNREADABLE_LOCK_STALE_AFTER = 10.0
"""Seconds after which a lock file that cannot be parsed counts as stale (a lock is created
already filled, so such a file was damaged, e.g. by hand)."""


def storage_kwargs(storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``storage_options=`` for xarray and zarr calls, only when there are any (local paths take
    none)."""
    return {"storage_options": dict(storage_options)} if storage_options else {}


def check_store_path(store: Any) -> str:
    """The store path as a ``str``; an empty or blank path is refused.

    zarr would take ``""`` for the current directory, and writing a store there replaces the
    directory's contents, so this runs before anything touches the disk. A ``file://`` URL is
    a local path, and gets the local checks (foreign files, symbolic links, the writer's lock);
    a local path loses its trailing ``/`` and its ``.`` segments, so that ``link.zarr/`` is
    seen as the symbolic link it names.
    """
    try:
        path = os.fspath(store)
    except TypeError:
        raise InvalidRunError(f"store is {store!r}; expected a path or an fsspec URL") from None
    if not isinstance(path, str):
        raise InvalidRunError(f"store is {store!r}; expected a str path or URL, not bytes")
    if not path.strip():
        raise InvalidRunError(
            f"store is {path!r}; give the path or URL of the zarr store (an empty path would "
            "mean the current directory)"
        )
    if path.startswith("file://"):
        path = path.removeprefix("file://")
        if not path.strip():
            raise InvalidRunError(f"store is {store!r}; the file:// URL names no path")
    if _is_local(path):
        path = _tidy_local(path)
    return path


def _tidy_local(path: str) -> str:
    """``path`` without empty and ``.`` segments (``..`` is kept: it follows symbolic links)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/"):
        return "/" + "/".join(parts)
    return "/".join(parts) or "."


def check_group(group: str | None) -> str | None:
    """The group path without leading and trailing ``/`` (None for the root); a group with an
    empty, ``.`` or ``..`` segment is refused before anything touches the disk (zarr refuses it
    too, but only after the store's folders would have been made)."""
    if group is None:
        return None
    if not isinstance(group, str):
        raise InvalidRunError(f"group is {group!r}; expected a str such as 'continuous'")
    stripped = group.strip("/")
    if not stripped:
        return None
    bad = [p for p in stripped.split("/") if p in ("", ".", "..") or p != p.strip()]
    if bad or "\\" in stripped:
        raise InvalidRunError(
            f"group is {group!r}; a group is a path of names separated by '/', without empty, "
            "'.' or '..' segments, backslashes or surrounding spaces"
        )
    return stripped


def checksummed_codecs() -> tuple[Any, ...]:
    """Chunk codecs after the bytes codec: zstd (zarr's default) then a CRC32C of the compressed
    chunk, so a flipped bit fails the read (``ValueError: Stored and computed checksum do not
    match``) instead of changing the data silently."""
    from zarr.codecs import Crc32cCodec, ZstdCodec

    return (ZstdCodec(level=0), Crc32cCodec())


def describe(path: str, group: str | None) -> str:
    """``path`` or ``path (group 'g')``, for messages."""
    return path + (f" (group {group!r})" if group else "")


def _is_local(path: str) -> bool:
    return "://" not in path


def _local_dir(path: str, group: str | None) -> str:
    checked = check_group(group)
    return os.path.join(path, *(checked.split("/") if checked else ()))


def _fs(path: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(path, **dict(storage_options or {}))  # type: ignore[no-any-return]


def open_group(
    path: str,
    group: str | None,
    mode: Literal["r", "r+", "a", "w", "w-"],
    storage_options: Mapping[str, Any] | None,
) -> Any:
    """``zarr.open_group`` of a run's group, with fsspec options for a URL.

    Always reads the live metadata: the root's consolidated copy (for xarray) lags behind while a
    run writes."""
    import zarr

    kwargs = storage_kwargs(storage_options)
    return zarr.open_group(path, path=group or "", mode=mode, use_consolidated=False, **kwargs)


def exists(path: str, group: str | None, storage_options: Mapping[str, Any] | None) -> bool:
    """Whether anything is at the run's place: the group's directory (local), or the zarr group
    (for a group of a URL), or anything at the URL."""
    group = check_group(group)
    if _is_local(path):
        return os.path.lexists(_local_dir(path, group))
    fs, p = _fs(path, storage_options)
    if not fs.exists(p):
        return False
    if not group:
        return True
    try:
        open_group(path, group, "r", storage_options)
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Recognising the package's own stores.


def is_run(attrs: Mapping[str, Any]) -> bool:
    """Whether a group's attributes are those of a dtp-gillespie run."""
    return all(k in attrs for k in _RUN_ATTRS)


def _members(group: Any) -> list[tuple[str, Any]]:
    with warnings.catch_warnings():
        # zarr warns about objects it does not recognise (the caller has vetted those).
        warnings.simplefilter("ignore")
        return [(name, m) for name, m in group.members() if name != LOCK_GROUP]


def _holds_runs(group: Any, depth: int = 1) -> bool:
    """A run, a group whose members all hold runs (``depth`` levels down) and whose only
    attribute is the list of those groups, or a blank group (no attributes, no members)."""
    attrs = dict(group.attrs)
    if is_run(attrs):
        return True
    if set(attrs) - {GROUPS_ATTR, cv.ATTR_INCOMPLETE} or depth < 0:
        return False
    import zarr

    return all(isinstance(m, zarr.Group) and _holds_runs(m, depth - 1) for _, m in _members(group))


def run_groups(root: Any) -> list[str]:
    """Paths (from ``root``) of the groups below it that hold a run, sorted; the package's
    internal groups (``_lock``, ``_progress``) and anything inside a run are not searched."""
    import zarr

    found: list[str] = []

    def walk(group: Any, prefix: str) -> None:
        for name, member in sorted(_members(group), key=lambda m: m[0]):
            if not isinstance(member, zarr.Group) or name.startswith("_"):
                continue
            if is_run(dict(member.attrs)):
                found.append(prefix + name)
            else:
                walk(member, f"{prefix}{name}/")

    walk(root, "")
    return found


def is_blank(group: Any) -> bool:
    """A zarr group with no attributes and no members: a run killed in its first instant."""
    return not dict(group.attrs) and not _members(group)


def recognised_store(
    store: Any, group: str | None = None, storage_options: Mapping[str, Any] | None = None
) -> bool:
    """Whether dtp-gillespie may delete or overwrite this existing store (or group of a store).

    True for a zarr group holding a dtp-gillespie run, a zarr group whose member groups all hold
    runs (the CLI writes one per schedule), a zarr group with no attributes and no members, and an
    empty directory. False for anything else: a file, a symbolic link, a directory with files or
    folders zarr does not know at any depth (a note inside a run's group, a symbolic link among
    its chunks), a zarr store of other data.
    """
    path = check_store_path(store)
    if _is_local(path):
        target = _local_dir(path, group)
        if os.path.islink(target) or not os.path.isdir(target):
            return False
        if not [name for name in os.listdir(target) if name != LOCK_GROUP]:
            return True  # an empty directory, or one holding only a (stale) writer's lock
        if walk_store(target)[0]:
            return False
    try:
        root = open_group(path, group, "r", storage_options)
    except Exception:
        return False
    return _holds_runs(root)


def clear_group(
    path: str,
    group: str | None,
    storage_options: Mapping[str, Any] | None,
    *,
    keep_lock: bool,
) -> None:
    """Delete the contents of a run's place (the caller has recognised it as the package's own);
    with ``keep_lock`` the writer's lock (held by the caller) stays.

    A group's contents go only after the root's consolidated metadata is dropped: killed in
    between, a plain ``xr.open_zarr`` would otherwise read the old metadata over deleted chunks.
    """
    if group:
        drop_consolidated(path, storage_options)
    if _is_local(path):
        target = _local_dir(path, group)
        if not os.path.lexists(target):
            return
        if not keep_lock:
            shutil.rmtree(target)
            return
        for name in os.listdir(target):
            if name == LOCK_GROUP:
                continue
            full = os.path.join(target, name)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)
        return
    if group:
        with contextlib.suppress(KeyError):
            open_group(path, None, "r+", storage_options).__delitem__(group)
        return
    fs, p = _fs(path, storage_options)
    if fs.exists(p):
        fs.rm(p, recursive=True)


def tidy_killed_writes(path: str, group: str | None) -> None:
    """Under the writer's lock, in a place recognised as the package's own: remove the
    temporary files a killed writer left (local stores; nothing to do for URLs)."""
    if _is_local(path) and os.path.isdir(_local_dir(path, group)):
        remove_partials(_local_dir(path, group))


def drop_consolidated(path: str, storage_options: Mapping[str, Any] | None) -> None:
    """Remove the consolidated metadata from a store's root ``zarr.json`` (readers then read
    each node's own metadata; the run's end consolidates again). The new file replaces the old
    in one rename, so a reader sees one or the other."""
    if _is_local(path):
        meta = os.path.join(path, "zarr.json")
        try:
            with open(meta, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return
        if not isinstance(doc, dict) or doc.get("consolidated_metadata") is None:
            return
        del doc["consolidated_metadata"]
        tmp = os.path.join(path, f"{REWRITE_PREFIX}{os.getpid()}-{os.urandom(4).hex()}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, meta)
        return
    fs, p = _fs(path, storage_options)
    key = p.rstrip("/") + "/zarr.json"
    try:
        doc = json.loads(fs.cat_file(key))
    except Exception:
        return
    if isinstance(doc, dict) and doc.get("consolidated_metadata") is not None:
        del doc["consolidated_metadata"]
        fs.pipe_file(key, json.dumps(doc, indent=2).encode())


def delete_run_store(
    store: Any, *, group: str | None = None, storage_options: Mapping[str, Any] | None = None
) -> None:
    """Delete a store (or one group) that :func:`recognised_store` accepts; refuse anything else,
    and a store a live writer holds the lock of.

    Raises
    ------
    InvalidRunError
        Not a store of the package's own (nothing is deleted), or being written.
    """
    path = check_store_path(store)
    where = describe(path, group)
    if not exists(path, group, storage_options):
        return
    check_no_writer_below(path, group, where)
    if not recognised_store(path, group, storage_options):
        raise InvalidRunError(
            f"{where} exists and is not a dtp-gillespie store (a run, or one run per group); "
            "refusing to overwrite it"
        )
    clear_group(path, group, storage_options, keep_lock=False)


# --------------------------------------------------------------------------------------------
# The writer's lock.


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would terminate the process there: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _read_lock(lock_file: str) -> dict[str, Any] | None:
    """The writer named by a lock file, or None if it cannot be read (being written, damaged)."""
    try:
        with open(lock_file, encoding="utf-8") as f:
            attrs = json.load(f)["attributes"]
        return {"host": str(attrs["host"]), "pid": int(attrs["pid"]), "since": attrs["since"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _settled_holder(lock_file: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether ``lock_file`` exists, and the writer it names. A lock that cannot be read is read
    again for up to half a second: a writer that is just ending may remove it in between, and a
    lock that stays unreadable for that long is reported as such."""
    for _ in range(10):
        if not os.path.lexists(lock_file):
            return False, None
        holder = _read_lock(lock_file)
        if holder is not None:
            return True, holder
        time.sleep(0.05)
    return os.path.lexists(lock_file), None


def _holder_text(holder: Mapping[str, Any] | None) -> str:
    if holder is None:
        return "a writer whose lock file cannot be read"
    return f"process {holder['pid']} on host {holder['host']} (since {holder['since']})"


def _is_stale(lock_file: str, holder: Mapping[str, Any] | None) -> bool:
    """A lock whose writer is gone: its process is dead on this host, or its file could not be
    read for longer than a writer ever takes to fill it."""
    if holder is None:
        try:
            return time.time() - os.path.getmtime(lock_file) > _UNREADABLE_LOCK_STALE_AFTER
        except OSError:
            return False
    return holder["host"] == socket.gethostname() and not _pid_alive(holder["pid"])


def check_no_writer_below(
    path: str, group: str | None, where: str, *, own_lock: bool = False
) -> None:
    """Refuse to clear a run's place while a live writer holds a lock anywhere below it: its
    own group's, or that of any group inside (overwriting a store must not delete another
    process's run in one of its groups). With ``own_lock`` the place's own lock is the
    caller's and is not checked."""
    if not _is_local(path):
        return
    target = _local_dir(path, group)
    if os.path.islink(target) or not os.path.isdir(target):
        return
    mine = os.path.join(target, LOCK_GROUP, "zarr.json")
    for lock_file in walk_store(target)[1]:
        if own_lock and lock_file == mine:
            continue
        held, holder = _settled_holder(lock_file)
        if held and not _is_stale(lock_file, holder):
            inner = os.path.relpath(os.path.dirname(os.path.dirname(lock_file)), target)
            at = where if inner == "." else f"{where}, in its group {inner!r},"
            raise InvalidRunError(_locked_message(at, holder, lock_file))


def _locked_message(where: str, holder: Mapping[str, Any] | None, lock_file: str) -> str:
    return (
        f"{where} is being written by {_holder_text(holder)}; two writers would corrupt it. "
        f"Wait for that run to end; if it is gone (another host, a reused pid), delete "
        f"{lock_file}"
    )


def _remove_stale(lock_file: str, seen: Mapping[str, Any] | None) -> None:
    """Move a stale lock aside, checking that it is still the one judged stale (another writer
    may have replaced it meanwhile: that lock is put back)."""
    aside = f"{lock_file}.stale-{socket.gethostname()}-{os.getpid()}"
    try:
        os.replace(lock_file, aside)
    except FileNotFoundError:
        return
    if _read_lock(aside) != seen:
        with contextlib.suppress(OSError):
            os.link(aside, lock_file)
    with contextlib.suppress(OSError):
        os.unlink(aside)


@contextlib.contextmanager
def store_lock(
    path: str, group: str | None, storage_options: Mapping[str, Any] | None
) -> Iterator[None]:
    """Hold the exclusive writer's lock of a run's group (local stores; no-op for URLs).

    Raises
    ------
    InvalidRunError
        Another live process holds the lock (named in the message), or it cannot be created.
    """
    if not _is_local(path):
        yield
        return
    where = describe(path, group)
    lock_dir = os.path.join(_local_dir(path, group), LOCK_GROUP)
    lock_file = os.path.join(lock_dir, "zarr.json")
    me = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    body = {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {
            "description": (
                "lock of the process writing this run (dtp_gillespie.store_safety); removed "
                "when it ends, stale once that process is gone"
            ),
            **me,
        },
    }
    _acquire(lock_dir, lock_file, json.dumps(body).encode(), where)
    try:
        yield
    finally:
        if _read_lock(lock_file) == me:
            with contextlib.suppress(OSError):
                os.unlink(lock_file)
        with contextlib.suppress(OSError):
            os.rmdir(lock_dir)


def _acquire(lock_dir: str, lock_file: str, body: bytes, where: str) -> None:
    for _ in range(5):
        try:
            os.makedirs(lock_dir, exist_ok=True)
            _create_filled(lock_file, body)
        except FileExistsError:
            exists, holder = _settled_holder(lock_file)
            if not exists:  # its writer ended in between: try again
                continue
            if _is_stale(lock_file, holder):
                _remove_stale(lock_file, holder)
                continue
            raise InvalidRunError(_locked_message(where, holder, lock_file)) from None
        except FileNotFoundError:  # the previous writer removed the directory in between
            continue
        except OSError as exc:
            raise InvalidRunError(f"{where}: cannot create the writer's lock: {exc}") from None
        return
    raise InvalidRunError(f"{where}: could not take the writer's lock {lock_file}")


def _create_filled(lock_file: str, body: bytes) -> None:
    """Create ``lock_file`` holding ``body``, or raise FileExistsError, in one atomic step.

    The body goes to a private file first and is hard-linked into place (``link`` fails if the
    name exists), so another writer never sees the lock empty or half written and can always
    name its holder.
    """
    private = f"{lock_file}.{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.link(private, lock_file)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(private)
