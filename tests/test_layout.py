"""The layout rules of node/__init__.py and DESIGN.md, checked on the source: no import cycle,
no forbidden import between rooms, no oversized module, a docstring on every package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("consensus", "chaincode", "genesis", "node")
MAX_LINES = 600

LOWER_ROOMS = ("node.tx", "node.clock", "node.metrics", "node.storage", "node.sync",
               "node.committed", "node.executor", "node.mempool", "node.audit", "node.transfer",
               "node.fetch", "node.proof", "node.fsck", "node.events", "node.access",
               "node.recover", "node.gossip", "node.surveillance")
TOOLS = ("node.sim", "node.cli", "node.bench", "node.demo")
FORBIDDEN = {
    # importer prefix: imported prefixes it may not use
    "consensus": ("node", "chaincode", "genesis"),
    "chaincode": ("node", "genesis"),
    "genesis": ("node",),
    "node.rpc": ("node.app", "node.p2p", *TOOLS),
    "node.console": ("node.app", "node.p2p", *TOOLS),
    "node.sim": ("node.app", "node.p2p", "node.rpc.server", "node.rpc.audit", "node.cli",
                 "node.bench", "node.demo"),
    "node.bench": ("node.app", "node.sim", "node.cli", "node.demo"),
    "node.demo": ("node.app", "node.sim", "node.cli", "node.bench"),
    **{room: ("node.app", "node.p2p", "node.rpc.server", "node.rpc.audit", *TOOLS)
       for room in LOWER_ROOMS},
}


def module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of ours that `path` imports, at any depth of the file (lazy imports in
    functions count: they are edges all the same)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` depends on the submodule, not on the package
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                     else node.module for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found |= {name for name in names if name in modules}
    return found


def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def is_in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(edges.get(module, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return cycles


def forbidden_imports(edges: dict[str, set[str]]) -> list[str]:
    broken = []
    for module, deps in sorted(edges.items()):
        for importer, banned in FORBIDDEN.items():
            if is_in(module, importer):
                broken += [f"{module} imports {dep}" for dep in sorted(deps)
                           if any(is_in(dep, ban) for ban in banned)]
        if not is_in(module, "node.cli"):
            broken += [f"{module} imports {dep} (nothing imports the CLI)"
                       for dep in sorted(deps) if is_in(dep, "node.cli")]
    return broken


def test_no_import_cycle() -> None:
    cycles = find_cycles(graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_rooms_import_only_what_they_may() -> None:
    broken = forbidden_imports(graph())
    assert not broken, "\n".join(broken)


def test_no_node_module_is_oversized() -> None:
    over = [f"{path.relative_to(ROOT)}: {n} lines" for path in sorted((ROOT / "node").rglob("*.py"))
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not over, over


def test_every_package_says_what_it_is_for() -> None:
    missing = []
    for package in PACKAGES:
        for init in sorted((ROOT / package).rglob("__init__.py")):
            if not ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))):
                missing.append(str(init.relative_to(ROOT)))
    assert not missing, missing


def test_the_checks_find_what_is_planted(tmp_path: Path) -> None:
    """The walk and both checks work: a lazy import inside a function is an edge, the old
    app <-> rpc circle is a cycle, and the RPC importing the process is forbidden."""
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from node.app import now_ms\n")
    assert imports_of(lazy, {"node.app": lazy}) == {"node.app"}
    planted = {**graph(), "node.rpc.server": graph()["node.rpc.server"] | {"node.app"}}
    assert find_cycles(planted)
    assert "node.rpc.server imports node.app" in forbidden_imports(planted)
    assert "node.tx imports node.cli (nothing imports the CLI)" in forbidden_imports(
        {"node.tx": {"node.cli"}})
