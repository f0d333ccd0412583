"""The shape of the code base: no import cycles between files, no oversized Python module.

A cycle between two modules means neither can be read, tested or changed alone; a module of
more than a few hundred lines holds more than one idea. Both rules are cheap to check from the
source text, so they are checked here rather than left to review.
"""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "dtp_gillespie"
RUST_CRATES = [
    ROOT / "rust" / "dtp_gillespie_core" / "src",
    ROOT / "rust" / "dtp_gillespie_py" / "src",
]
SCRIPT = ROOT / "scripts" / "import_cycles.py"
MAX_MODULE_LINES = 600


def _load_import_cycles() -> ModuleType:
    """``scripts/import_cycles.py``, the one finder of import cycles (also a command)."""
    spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IMPORT_CYCLES = _load_import_cycles()


def _rust_graph(src: Path) -> dict[str, set[str]]:
    """``{module: modules of the crate it uses}``; a directory module (``jump/``) is one node
    made of all its files, as a Python subpackage is."""
    files = [f for f in sorted(src.rglob("*.rs")) if f.relative_to(src).parts[0] not in _ROOTS]
    graph: dict[str, set[str]] = {}
    for f in files:
        node = f.relative_to(src).parts[0].removesuffix(".rs")
        text = re.sub(r"(?s)#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", f.read_text(encoding="utf-8"))
        text = re.sub(r"//[^\n]*", "", text)
        used = set(re.findall(r"crate::(\w+)", text))
        # `use crate::{a::X, b::Y}` groups
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            used |= {part.strip().split("::")[0] for part in group.split(",")}
        graph.setdefault(node, set()).update(used)
    return {node: (used & set(graph)) - {node} for node, used in graph.items()}


_ROOTS = ("lib.rs", "main.rs")


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert IMPORT_CYCLES.cycles(graph) == [["a", "b", "c"]]
    assert IMPORT_CYCLES.cycles({"a": {"b"}, "b": set()}) == []


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text("from .two import x\n")
    (tmp_path / "two.py").write_text("def f():\n    from . import one\n")
    assert IMPORT_CYCLES.cycles(IMPORT_CYCLES.import_graph(tmp_path)) == [["one", "two"]]


def test_no_import_cycle_between_python_modules() -> None:
    graph = IMPORT_CYCLES.import_graph(PACKAGE)
    assert "errors" in graph["model"]  # the graph sees imports
    assert IMPORT_CYCLES.cycles(graph) == []


@pytest.mark.parametrize("src", RUST_CRATES, ids=lambda p: p.parent.name)
def test_no_cycle_between_rust_modules(src: Path) -> None:
    graph = _rust_graph(src)
    assert any(graph.values())
    assert IMPORT_CYCLES.cycles(graph) == []


def test_no_python_module_is_oversized() -> None:
    sizes = {
        str(f.relative_to(PACKAGE)): len(f.read_text(encoding="utf-8").splitlines())
        for f in PACKAGE.rglob("*.py")
    }
    assert sizes, "no module found"
    assert {f: n for f, n in sizes.items() if n > MAX_MODULE_LINES} == {}
