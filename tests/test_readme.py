"""The README is the landing page: its Python example runs as written (in a fresh interpreter, in
an empty directory, with a shortened ensemble: :data:`REDUCED`), its quick-start commands are the
ones CI and the docs use, and every link into docs/ reaches a page and heading that exist. The
examples of the pages in docs/ are run by tests/test_docs.py.
"""

import re
from pathlib import Path

import pytest
from markdown_examples import Block, count_marks, python_blocks, run_block

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

REDUCED = {"n_replicates=1000,": "n_replicates=100,"}
"""README text -> the text the test runs instead (a smaller ensemble; the code is the same)."""

BLOCKS = python_blocks(README)
RUN = [b for b in BLOCKS if b.not_run is None]

QUICK_START = ["pip install . && dtp-gillespie run", "bash scripts/test.sh"]


def test_the_readme_has_its_example_and_marks_nothing_as_not_run() -> None:
    assert len(BLOCKS) >= 1
    assert count_marks(README) == 0
    assert all(b.not_run is None for b in BLOCKS)


def test_the_readme_keeps_the_two_quick_start_commands() -> None:
    fenced = re.findall(r"```bash\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)
    assert fenced[:2] == QUICK_START


@pytest.mark.parametrize("text", list(REDUCED))
def test_every_reduction_still_matches_an_example(text: str) -> None:
    assert any(text in b.code for b in RUN), f"{text!r} is in no README example any more"


@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_readme_example_runs_on_its_own(block: Block, tmp_path: Path) -> None:
    run_block(block, REDUCED, tmp_path)


def _slug(heading: str) -> str:
    """GitHub's (and MyST's) anchor of a heading: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def test_every_link_into_the_docs_reaches_a_page_and_heading() -> None:
    links = re.findall(r"\]\((docs/[^)\s]*)\)", README.read_text(encoding="utf-8"))
    assert len(links) >= 8, "the README links into the documentation"
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        page = ROOT / path
        if not page.is_file() or (anchor and anchor not in _anchors(page)):
            broken.append(link)
    assert not broken, f"README links that lead nowhere: {broken}"
