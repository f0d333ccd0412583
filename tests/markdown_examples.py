"""The ```python blocks of a markdown file (README.md, the pages in docs/), and running one.

A block that needs what a test machine does not have (a remote scheduler, a bucket) is marked by
the HTML comment ``<!-- not run: REASON -->`` on the line before it (blank lines between them
allowed); the tests count the marks, so none is skipped silently. Long runs are shortened by a
mechanical substitution (a table ``text -> replacement`` per test); each substitution must still
match a block, so an edited example cannot escape it.
"""

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

NOT_RUN = re.compile(r"^<!-- not run: (?P<reason>.+?) -->$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """Line of the opening fence (1-based)."""
    code: str
    not_run: str | None
    """The reason given by a ``<!-- not run: ... -->`` comment, or None."""

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """Every ```python block of ``path``, with the not-run mark on the line before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        start = i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = NOT_RUN.match(before.strip())
        code = "\n".join(lines[start + 1 : end]) + "\n"
        blocks.append(Block(path, start + 1, code, mark and mark["reason"]))
        i = end + 1
    return blocks


def count_marks(path: Path) -> int:
    """``<!-- not run: ... -->`` comments anywhere in ``path`` (a mark that is not right before a
    python block would mark nothing)."""
    return sum(
        bool(NOT_RUN.match(line.strip())) for line in path.read_text(encoding="utf-8").splitlines()
    )


def reduced(code: str, reductions: Mapping[str, str]) -> str:
    for text, replacement in reductions.items():
        code = code.replace(text, replacement)
    return code


def run_block(block: Block, reductions: Mapping[str, str], tmp_path: Path) -> None:
    """Run the block, shortened, as a script in a fresh interpreter in the empty ``tmp_path``."""
    code = reduced(block.code, reductions)
    script = tmp_path / "example.py"  # a file, not -c: Dask's workers import the main module
    script.write_text(code, encoding="utf-8")
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
    assert result.returncode == 0, f"{block.id}:\n{code}\n{result.stderr[-3000:]}"
