"""File-level import cycles of the Python package: prints them, exits 1 if there are any.

Every import of a module of the package counts: at the top of a file, inside a function, or under
``if TYPE_CHECKING`` (each of those is a dependency between the two files). A subpackage counts
as one node (``schedule/`` and ``schedule.py`` alike), so a cycle through it is reported too.

    python scripts/import_cycles.py [python/dtp_gillespie]
"""

import ast
import sys
from pathlib import Path

PACKAGE = "dtp_gillespie"


def _node(path: Path, root: Path) -> str:
    """The top-level module of the package a file belongs to (``schedule`` for
    ``schedule/fixed.py``)."""
    return path.relative_to(root).parts[0].removesuffix(".py")


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` over every ``.py`` file below ``root``."""
    files = [p for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    nodes = {_node(p, root) for p in files}
    graph: dict[str, set[str]] = {n: set() for n in nodes}
    for path in files:
        here = _node(path, root)
        depth = len(path.relative_to(root).parts) - 1  # 0 for a top-level module
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level:
                up = node.level - 1 - depth  # levels above the package root
                if up > 0:
                    continue
                if node.level - 1 < depth:  # relative to a subpackage: its own node
                    targets = [here]
                elif node.module:
                    targets = [node.module.split(".")[0]]
                else:
                    targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
                targets = [(node.module or "").split(".")[1]]
            elif isinstance(node, ast.Import):
                targets = [
                    a.name.split(".")[1] for a in node.names if a.name.startswith(PACKAGE + ".")
                ]
            graph[here].update(t for t in targets if t in nodes and t != here)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    root = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "python" / PACKAGE
    )
    graph = import_graph(root)
    found = cycles(graph)
    for component in found:
        print("import cycle:", " <-> ".join(component))
    if not found:
        print(f"no import cycle among the {len(graph)} modules of {root}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
