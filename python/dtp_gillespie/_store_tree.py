"""The local folder of a zarr store, walked: what in it zarr (or this package) does not know,
and the writers' locks it holds (:mod:`dtp_gillespie.store_safety` decides with it what the
package may delete)."""

import json
import os
import re

__all__ = ["LOCK_GROUP", "REWRITE_PREFIX", "remove_partials", "walk_store"]

LOCK_GROUP = "_lock"
"""Child group (of the run's group) whose ``zarr.json`` is the writer's lock."""

_ZARR_METADATA = frozenset({"zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata"})
_ZARR_PARTIAL = re.compile(r"^[^/]*\.[0-9a-f]{32}\.partial$")
"""zarr's LocalStore writes each file as ``<name>.<uuid hex>.partial`` and renames it."""

REWRITE_PREFIX = "zarr.json.dtp-rewrite-"
"""Temporary file of ``store_safety.drop_consolidated`` (left behind only by a process killed
while it renames it into place)."""
_CHUNK_KEY = re.compile(r"^(c|\d+(\.\d+)*)$")
"""Names of an array's chunk files and folders: zarr 3's ``c/0/1`` (``c`` alone for a 0-d
array), zarr 2's ``0.1`` or ``0/1``."""


def _node_kind(directory: str) -> str | None:
    """``"array"``, ``"group"`` or None (no zarr metadata) for a local directory; a zarr.json
    that cannot be read counts as a group (its members are still checked one by one)."""
    if os.path.isfile(os.path.join(directory, ".zarray")):
        return "array"
    if os.path.isfile(os.path.join(directory, ".zgroup")):
        return "group"
    meta = os.path.join(directory, "zarr.json")
    if not os.path.isfile(meta):
        return None
    try:
        with open(meta, encoding="utf-8") as f:
            kind = json.load(f).get("node_type")
    except (OSError, ValueError, AttributeError):
        return "group"
    return "array" if kind == "array" else "group"


def walk_store(directory: str) -> tuple[list[str], list[str]]:
    """Everything below a local directory that zarr does not know (paths relative to it), and
    the writers' lock files found there.

    Known: zarr metadata files, groups and arrays (folders with metadata), an array's chunk
    files and folders, a group's ``_lock`` (its ``zarr.json`` and the lock's own temporary
    files), and the temporary files zarr and this package write before renaming them into
    place (left by a writer killed in between). Anything else, and any symbolic link, is
    foreign, however deep.
    """
    foreign: list[str] = []
    locks: list[str] = []

    def listing(folder: str) -> list[str]:
        try:  # a writer may remove a folder while it is walked
            return sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def chunks(folder: str, rel: str) -> None:
        for name in listing(folder):
            full, r = os.path.join(folder, name), f"{rel}/{name}"
            if os.path.islink(full) or not (
                _CHUNK_KEY.match(name) or (_ZARR_PARTIAL.match(name) and os.path.isfile(full))
            ):
                foreign.append(r)
            elif os.path.isdir(full):
                chunks(full, r)

    def node(folder: str, rel: str) -> None:
        kind = _node_kind(folder)
        for name in listing(folder):
            full, r = os.path.join(folder, name), f"{rel}{name}"
            if os.path.islink(full):
                foreign.append(r)
            elif os.path.isfile(full) and (
                name in _ZARR_METADATA
                or _ZARR_PARTIAL.match(name)
                or (kind == "group" and name.startswith(REWRITE_PREFIX))
            ):
                continue
            elif kind == "array" and _CHUNK_KEY.match(name):
                if os.path.isdir(full):
                    chunks(full, r)
            elif name == LOCK_GROUP and kind != "array" and os.path.isdir(full):
                for n in listing(full):
                    if not n.startswith("zarr.json") or not os.path.isfile(os.path.join(full, n)):
                        foreign.append(f"{r}/{n}")
                    elif n == "zarr.json":
                        locks.append(os.path.join(full, n))
            elif (
                kind != "array"
                and os.path.isdir(full)
                and (_node_kind(full) is not None or set(listing(full)) <= {LOCK_GROUP})
            ):
                node(full, r + "/")  # a zarr node, or a group emptied by a killed writer
            else:
                foreign.append(r)

    node(directory, "")
    return foreign, locks


def remove_partials(directory: str) -> None:
    """Delete zarr's temporary files (``<name>.<uuid>.partial``) below a store's folder that
    its writer, killed before renaming them, left behind: zarr would warn of each at every
    read. The caller holds the writer's lock and has recognised the store as the package's."""
    for folder, _, files in os.walk(directory):
        for name in files:
            full = os.path.join(folder, name)
            if _ZARR_PARTIAL.match(name) and not os.path.islink(full):
                os.unlink(full)
