"""The shape of the code base: no import cycles between files, no oversized Python module.

A cycle between two modules means neither can be read, tested or changed alone; a module of
more than a few hundred lines holds more than one idea. Both rules are cheap to check from the
source text, so they are checked here rather than left to review.
"""

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "dtp_gillespie"
RUST_CRATES = [
    ROOT / "rust" / "dtp_gillespie_core" / "src",
    ROOT / "rust" / "dtp_gillespie_py" / "src",
]
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module named by ``from <level dots><target> import ...`` inside ``module``."""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, *([target] if target else [])])


def _top_level_imports(path: Path, modules: set[str]) -> Iterator[str]:
    """Modules of the package that ``path`` imports at file level (function bodies excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module, is_package = _module_name(path), path.name == "__init__.py"
    nodes: list[ast.stmt] = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.If | ast.Try):  # `if TYPE_CHECKING:` and try/except imports count
            nodes.extend(node.body)
            nodes.extend(getattr(node, "orelse", []))
            nodes.extend(h for handler in getattr(node, "handlers", []) for h in handler.body)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            target = (
                _resolve(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    yield sub
                elif target in modules:
                    yield target


def _cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _python_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    # Compiled modules (`_core`) are known by their stubs; they import nothing of the package.
    modules = {_module_name(f) for f in [*files, *PACKAGE.rglob("*.pyi")]}
    graph = {}
    for f in files:
        name = _module_name(f)
        # A package's __init__ re-exports its submodules: the edge parent -> child is not a cycle
        # unless the child imports the parent back, which the child's own edges show.
        graph[name] = {m for m in _top_level_imports(f, modules) if m != name}
    return graph


def _rust_graph(src: Path) -> dict[str, set[str]]:
    files = sorted(src.glob("*.rs"))
    names = {f.stem for f in files} - {"lib", "main"}
    graph = {}
    for f in files:
        if f.stem in ("lib", "main"):
            continue
        text = re.sub(r"(?s)#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", f.read_text(encoding="utf-8"))
        text = re.sub(r"//[^\n]*", "", text)
        used = set(re.findall(r"crate::(\w+)", text))
        # `use crate::{a::X, b::Y}` groups
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            used |= {part.strip().split("::")[0] for part in group.split(",")}
        graph[f.stem] = (used & names) - {f.stem}
    return graph


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_python_graph_sees_imports() -> None:
    graph = _python_graph()
    assert "dtp_gillespie.errors" in graph["dtp_gillespie.model"]
    assert any(graph.values())


def test_no_import_cycle_between_python_modules() -> None:
    assert _cycles(_python_graph()) == []


@pytest.mark.parametrize("src", RUST_CRATES, ids=lambda p: p.parent.name)
def test_no_cycle_between_rust_modules(src: Path) -> None:
    graph = _rust_graph(src)
    assert any(graph.values())
    assert _cycles(graph) == []


def test_no_python_module_is_oversized() -> None:
    sizes = {
        str(f.relative_to(PACKAGE)): len(f.read_text(encoding="utf-8").splitlines())
        for f in PACKAGE.rglob("*.py")
    }
    assert sizes, "no module found"
    assert {f: n for f, n in sizes.items() if n > MAX_MODULE_LINES} == {}
