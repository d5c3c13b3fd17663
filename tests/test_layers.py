"""The layers hold: tools/ is plain ML work, each agent package imports only packages below it, and no
module imports itself back through others. Read from the source with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top. A module may import from its own layer's package and from any layer below it.
LAYERS: list[tuple[str, ...]] = [
    ("tools",),
    ("agent.settings", "agent.timing"),
    ("agent.record", "agent.console"),
    ("agent.decide",),
    ("agent.llm",),
    ("agent.job",),
    ("agent.use",),
    ("agent.chat",),
    ("agent.cli", "agent.__main__", "agent"),
]
# What tools/ must never need: the agent, the terminal, the LLM client, the graph.
NOT_IN_TOOLS = ("agent", "rich", "openai", "langgraph", "prompt_toolkit")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in ("agent", "tools") for p in (ROOT / top).rglob("*.py")}


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Modules ``path`` imports; with ``top_level_only``, those imported when it is loaded (not inside
    functions, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:
            continue   # TYPE_CHECKING blocks
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> int:
    best = -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                best = i if name != "agent" or best < 0 else best
    return best


def test_tools_import_nothing_from_the_agent_the_terminal_or_the_llm() -> None:
    bad = [f"{name} imports {imp}" for name, path in _modules().items() if name.startswith("tools")
           for imp in _imports(path) if imp.split(".")[0] in NOT_IN_TOOLS]
    assert not bad, "\n".join(sorted(bad))


def test_each_agent_package_imports_only_its_own_layer_and_those_below() -> None:
    modules = _modules()
    bad = []
    for name, path in modules.items():
        mine = _layer(name)
        for imp in _imports(path):
            if imp not in modules or not imp.startswith(("agent", "tools")):
                continue
            if _layer(imp) > mine:
                bad.append(f"{name} (layer {mine}) imports {imp} (layer {_layer(imp)})")
    assert not bad, "\n".join(sorted(bad))


def test_every_module_has_a_layer() -> None:
    assert not [name for name in _modules() if _layer(name) < 0]


def test_no_import_cycles_when_modules_load() -> None:
    modules = _modules()
    graph = {name: {i for i in _imports(path, top_level_only=True) if i in modules and i != name}
             for name, path in modules.items()}
    # A package's __init__ is loaded before its modules; importing one of them is not a cycle back.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
