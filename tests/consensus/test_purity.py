"""consensus/ is a pure state machine: no I/O, no clock, no randomness, no threads."""

from __future__ import annotations

import ast
from pathlib import Path

import consensus

FORBIDDEN = {"asyncio", "aiohttp", "plyvel", "time", "datetime", "random", "secrets", "socket",
             "threading", "multiprocessing", "subprocess", "logging", "os", "select", "selectors",
             "uuid", "node"}
PACKAGE = Path(consensus.__file__).parent


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            roots.add("__import__")
    return roots


def test_every_module_is_checked() -> None:
    names = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert {"replica.py", "messages.py", "view_change.py", "quorum.py", "log.py"} <= set(names)


def test_no_module_imports_io_clock_or_randomness() -> None:
    offenders = {}
    for path in sorted(PACKAGE.glob("*.py")):
        bad = imported_roots(ast.parse(path.read_text(), str(path))) & (FORBIDDEN | {"__import__"})
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_no_float_literals() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant):
                assert not isinstance(node.value, float), f"float literal in {path.name}"


def test_the_checker_catches_a_forbidden_import() -> None:
    assert imported_roots(ast.parse("import time\nfrom asyncio import sleep")) == {"time",
                                                                                    "asyncio"}
