"""The package graph, read from every import statement (also those inside functions).

The core never imports Streamlit or the app; the engine imports no other LensLab package;
the prompt-set leaf reads only the engine's error root; and no two packages import each other,
directly or round a loop.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "promptsets", "sweeps", "cli", "lens", "cluster", "memory", "compare", "edit", "world",
            "patch", "unlearn", "probe", "ui",
            "app_pages")
CORE = ("engine", "promptsets", "sweeps", "cli", "lens", "cluster", "memory", "compare", "edit", "world",
        "patch", "unlearn", "probe")


def _imports(path: Path) -> set[str]:
    """Dotted names ``path`` imports (absolute imports only; the project uses no relative ones)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _graph() -> dict[str, dict[str, set[str]]]:
    """package -> imported top-level name -> the files that import it."""
    graph: dict[str, dict[str, set[str]]] = {}
    for pkg in PACKAGES:
        edges: dict[str, set[str]] = {}
        for path in sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).is_dir() else []:
            for name in _imports(path):
                edges.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
        graph[pkg] = edges
    return graph


def _imported(graph, pkg: str, names: tuple[str, ...]) -> dict[str, set[str]]:
    return {n: files for n, files in graph[pkg].items() if n in names}


def test_the_walk_sees_the_known_imports():
    graph = _graph()
    assert "engine" in graph["lens"] and "promptsets" in graph["cluster"] and "streamlit" in graph["ui"]


def test_core_never_imports_streamlit_or_the_app():
    graph = _graph()
    offenders = {pkg: _imported(graph, pkg, ("streamlit", "ui", "app_pages", "app")) for pkg in CORE}
    assert {pkg: found for pkg, found in offenders.items() if found} == {}


def test_engine_imports_no_other_lenslab_package():
    graph = _graph()
    assert _imported(graph, "engine", tuple(p for p in PACKAGES if p != "engine")) == {}


def test_prompt_sets_are_a_leaf_that_needs_only_the_error_root():
    graph = _graph()
    assert _imported(graph, "promptsets", tuple(p for p in PACKAGES if p not in ("engine", "promptsets"))) == {}
    engine_uses = {name for path in (ROOT / "promptsets").rglob("*.py") for name in _imports(path)
                   if name.split(".")[0] == "engine"}
    assert engine_uses <= {"engine.errors"}


def test_no_package_cycle():
    graph = _graph()
    deps = {pkg: {n for n in edges if n in PACKAGES and n != pkg} for pkg, edges in graph.items()}
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(pkg: str, path: list[str]) -> None:
        state[pkg] = "open"
        for nxt in sorted(deps[pkg]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [pkg, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[pkg] = "done"

    for pkg in PACKAGES:
        if pkg not in state:
            visit(pkg, [pkg])
    assert cycles == []


def test_only_the_engine_touches_hooks_and_its_lock():
    """Hooks on the shared model and the lock that guards them stay behind the engine's front door."""
    inner = ("engine.hooks", "engine.forward")
    offenders = []
    for pkg in PACKAGES:
        if pkg == "engine" or not (ROOT / pkg).is_dir():
            continue
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            # The engine's lock is its ``lock`` attribute (a ``with engine.lock`` or ``.lock.acquire``);
            # the sweeps' output-file locks are another thing and may be named freely.
            engine_lock = re.search(r"\.lock\b(\s*:|\.|,|\))", text)
            if (_imports(path) & set(inner)) or "register_forward" in text or engine_lock:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
