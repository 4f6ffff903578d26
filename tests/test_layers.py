"""The package's layers: imports point only down the data flow, and no module imports itself in a circle.

Read from the source with ``ast`` (every import counts: at the top, inside functions and
under ``TYPE_CHECKING``), so the check costs milliseconds and needs no import of the
package. The README's code map is checked against the same tree: every module is listed,
and every module listed exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import ROOT

SOURCE = ROOT / "src" / "sendsearch"
# Lowest first: a module may import from its own layer and the ones before it.
LAYERS = ("base", "sources", "indexing", "search", "chat", "serve", "top")
_PACKAGE_LAYERS = {"text": "base", **{name: name for name in LAYERS[1:-1]}}


def _modules() -> dict[str, Path]:
    """Dotted names under sendsearch ("search.folder.backend", "__init__" for the package) and their files."""
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> str:
    if module in ("cli", "__init__"):
        return "top"
    return _PACKAGE_LAYERS.get(module.split(".")[0], "base")


def _resolve(module: str, path: Path, node: ast.ImportFrom | ast.Import) -> set[str]:
    """The modules of the package an import statement reaches."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names if alias.name.startswith("sendsearch.")]
        return {name.removeprefix("sendsearch.") for name in names} & MODULES.keys()
    if node.level == 0:
        if not (node.module or "").startswith("sendsearch"):
            return set()
        base = (node.module or "").removeprefix("sendsearch").lstrip(".")
    else:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if module == "__init__":
            package = []
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    reached = set()
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        reached.add(candidate if candidate in MODULES else base or "__init__")
    return reached & MODULES.keys()


def _imports() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reached: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                reached |= _resolve(module, path, node)
        graph[module] = reached - {module}
    return graph


GRAPH = _imports()


def test_imports_point_only_down_the_layers():
    upward = sorted(
        f"{module} ({_layer(module)}) imports {target} ({_layer(target)})"
        for module, targets in GRAPH.items()
        for target in targets
        if LAYERS.index(_layer(target)) > LAYERS.index(_layer(module))
    )
    assert upward == []


def test_no_import_cycles_type_checking_ones_included():
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(GRAPH):
        if state.get(start):
            continue
        # Depth-first without recursion: (module, its remaining targets).
        path = [start]
        stack = [(start, iter(sorted(GRAPH[start])))]
        state[start] = 1
        while stack:
            module, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                state[module] = 2
                stack.pop()
                path.pop()
            elif state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                stack.append((target, iter(sorted(GRAPH[target]))))
    assert cycles == []


def test_the_readme_code_map_lists_every_module_and_no_other():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Code map (`src/sendsearch/`)") :]
    section = section[: section.index("\n\n", section.index("| --- |"))]
    listed = set(re.findall(r"`([a-z_][a-z_.]*)`", section))
    modules = {name for name in MODULES if name != "__init__"}
    packages = {name for name in modules if MODULES[name].name == "__init__.py"}
    assert sorted(modules - packages - listed) == [], "modules missing from the README's code map"
    assert sorted(listed - modules) == [], "the README's code map names modules that do not exist"
