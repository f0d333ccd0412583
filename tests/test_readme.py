"""The README's Python examples run as written: every ```python block of README.md runs on its
own, in a fresh interpreter, in an empty directory.

Long runs are shortened by a mechanical substitution (:data:`REDUCED`: README text -> the text the
test runs); each substitution must still match a block, so an edited example cannot escape it. A
block that needs what a test machine does not have (a remote scheduler, a bucket) is marked in
the README by the HTML comment ``<!-- not run: REASON -->`` on the line before it; the test counts
them (:data:`EXPECTED_NOT_RUN`), so none is skipped silently.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

REDUCED = {
    "n_replicates=1_000_000": "n_replicates=200",
    "n_replicates=1000,": "n_replicates=100,",
    "n_replicates=10_000,": "n_replicates=50,",
}
"""README text -> the text the test runs instead (smaller ensembles; the code is the same)."""

EXPECTED_NOT_RUN = 1
"""Blocks marked ``<!-- not run: ... -->`` (the remote-scheduler Dask example)."""

_NOT_RUN = re.compile(r"^<!-- not run: (?P<reason>.+?) -->$")


@dataclass(frozen=True)
class Block:
    line: int
    """Line of the opening fence in README.md (1-based)."""
    code: str
    not_run: str | None
    """The reason given by a ``<!-- not run: ... -->`` comment, or None."""


def readme_blocks() -> list[Block]:
    """Every ```python block of the README, with the not-run mark on the line before it (blank
    lines between them allowed)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        start = i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = _NOT_RUN.match(before.strip())
        blocks.append(
            Block(start + 1, "\n".join(lines[start + 1 : end]) + "\n", mark and mark["reason"])
        )
        i = end + 1
    return blocks


def reduced(code: str) -> str:
    for text, replacement in REDUCED.items():
        code = code.replace(text, replacement)
    return code


BLOCKS = readme_blocks()
RUN = [b for b in BLOCKS if b.not_run is None]


def test_the_readme_has_its_examples_and_every_mark_is_counted() -> None:
    assert len(BLOCKS) >= 6
    not_run = [b for b in BLOCKS if b.not_run is not None]
    assert len(not_run) == EXPECTED_NOT_RUN, [(b.line, b.not_run) for b in not_run]
    # A mark that is not right before a python block would mark nothing.
    marks = sum(
        bool(_NOT_RUN.match(line.strip()))
        for line in README.read_text(encoding="utf-8").splitlines()
    )
    assert marks == EXPECTED_NOT_RUN


@pytest.mark.parametrize("text", list(REDUCED))
def test_every_reduction_still_matches_an_example(text: str) -> None:
    assert any(text in b.code for b in RUN), f"{text!r} is in no README example any more"


@pytest.mark.parametrize("block", RUN, ids=[f"line{b.line}" for b in RUN])
def test_readme_example_runs_on_its_own(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "example.py"  # a file, not -c: Dask's workers import the main module
    script.write_text(reduced(block.code), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"README.md line {block.line}:\n{reduced(block.code)}\n{result.stderr[-3000:]}"
    )
