"""The architecture's rules, read from the source with ast (docs/architecture.md, issue 14):
modules and functions stay small, the simulators share no code with the kiosk, the screens reach
devices only through services, the screens' modules import each other without a cycle, and the
layers below the UI never import the command line or the screens.

Every import counts: module level, inside functions (lazy), under `if TYPE_CHECKING:`, and
importlib.import_module / __import__ with a literal name. Each rule has a self-test on synthetic
sources below, so a checker that finds nothing because it looks at nothing fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREES = ("kiosk", "simulators")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

FORBIDDEN_IN_SCREENS = ("kiosk.hw", "kiosk.card", "kiosk.sync", "kiosk.liveness")
LOWER_LAYERS = ("kiosk.card", "kiosk.sync", "kiosk.hw", "kiosk.domain", "kiosk.liveness", "kiosk.services")
UPPER_LAYERS = ("kiosk.cli", "kiosk.screens")


# --- reading the source ------------------------------------------------------------------------

@dataclass(frozen=True)
class Module:
    path: str  # relative to the repository, for messages: kiosk/screens/home.py
    name: str  # dotted: kiosk.screens.home (a package's __init__.py is the package)
    source: str
    tree: ast.Module

    @classmethod
    def parse(cls, path: str, source: str) -> Module:
        parts = path.removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        return cls(path, ".".join(parts), source, ast.parse(source, filename=path))

    @property
    def package(self) -> str:
        """What a relative import (level 1) is relative to."""
        return self.name if self.path.endswith("/__init__.py") else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    module: Module
    line: int
    statement: str  # as written, for the message
    targets: tuple[str, ...]  # absolute dotted names it may load: `from a import b` -> ("a", "a.b")
    members: tuple[str, ...] = ()  # of a from-import: ("a.b",); the first target is then the base

    def where(self) -> str:
        return f"{self.module.path}:{self.line}"


def read_modules(root: Path = ROOT, trees: Iterable[str] = TREES) -> list[Module]:
    modules = []
    for tree in trees:
        for path in sorted((root / tree).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).as_posix()
            modules.append(Module.parse(rel, path.read_text(encoding="utf-8")))
    return modules


def imports_of(module: Module) -> list[Import]:
    """Every import node anywhere in the module, with absolute target names, in line order."""
    return sorted(_imports(module), key=lambda imp: imp.line)


def _imports(module: Module) -> Iterator[Import]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            yield Import(module, node.lineno, ast.unparse(node), tuple(alias.name for alias in node.names))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.package.split(".")
                anchor = ".".join(package[:len(package) - (node.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            members = tuple(f"{base}.{a.name}" for a in node.names if a.name != "*")
            yield Import(module, node.lineno, ast.unparse(node), (base, *members), members)
        elif isinstance(node, ast.Call):
            name = _literal_import(node)
            if name is not None:
                yield Import(module, node.lineno, ast.unparse(node), (name,))


def _literal_import(node: ast.Call) -> str | None:
    """The module named by importlib.import_module("a.b") or __import__("a.b"), if a literal."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if called not in ("import_module", "__import__") or not node.args:
        return None
    arg = node.args[0]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def _within(name: str, prefixes: Iterable[str]) -> str | None:
    for prefix in prefixes:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def _in(module: Module, prefixes: Iterable[str]) -> bool:
    return _within(module.name, prefixes) is not None


# --- the checkers: each returns one message per violation ----------------------------------------

def long_modules(modules: Iterable[Module], limit: int = MAX_MODULE_LINES) -> list[str]:
    out = []
    for m in modules:
        n = len(m.source.splitlines())
        if n > limit:
            out.append(f"{m.path}:1 has {n} lines (limit {limit})")
    return out


def long_functions(modules: Iterable[Module], limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out = []
    for m in modules:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > limit:
                    out.append(f"{m.path}:{node.lineno} {node.name}() has {n} lines (limit {limit})")
    return out


def forbidden_imports(modules: Iterable[Module], importers: Iterable[str],
                      forbidden: Iterable[str]) -> list[str]:
    """Modules under any of `importers` that import anything under any of `forbidden`."""
    importers, forbidden = tuple(importers), tuple(forbidden)
    out = []
    for m in modules:
        if not _in(m, importers):
            continue
        for imp in imports_of(m):
            hit = next((_within(t, forbidden) for t in imp.targets if _within(t, forbidden)), None)
            if hit is not None:
                out.append(f"{imp.where()} `{imp.statement}`: {m.name} may not import {hit}")
    return out


def import_cycles(modules: Iterable[Module], package: str) -> list[str]:
    """Cycles among the modules under `package`, each as `a (file:line) -> b (file:line) -> a`.

    An edge goes to the most specific module a target names: `from pkg import x` is an edge to
    pkg.x when that is a module of the package, else to pkg itself."""
    inside = {m.name: m for m in modules if _within(m.name, (package,))}
    edges: dict[str, dict[str, str]] = {name: {} for name in inside}
    for name, m in inside.items():
        for imp in imports_of(m):
            for target in _edge_targets(imp, inside):
                edges[name].setdefault(target, imp.where())
    out = []
    for component in _strongly_connected(edges):
        if len(component) > 1 or component[0] in edges[component[0]]:
            cycle = _one_cycle(component, edges)
            steps = " -> ".join(f"{a} ({edges[a][b]})" for a, b in pairwise(cycle))
            out.append(f"import cycle: {steps} -> {cycle[-1]}")
    return out


def _edge_targets(imp: Import, inside: dict[str, Module]) -> set[str]:
    submodules = {t for t in imp.members if t in inside}
    if submodules:  # `from pkg import mod`: the module, not (only) its package
        return submodules
    return {t for t in imp.targets if t in inside}


def _strongly_connected(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def _one_cycle(component: list[str], edges: dict[str, dict[str, str]]) -> list[str]:
    """A shortest path from the component's first module back to itself (breadth first)."""
    members, start = set(component), component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node]):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle in component {component}")  # Tarjan said there is one


def _report(violations: list[str]) -> str:
    return f"{len(violations)} violation(s):\n" + "\n".join(violations)


# --- the rules on this repository -----------------------------------------------------------------

@pytest.fixture(scope="module")
def modules() -> list[Module]:
    found = read_modules()
    assert len([m for m in found if m.name.startswith("kiosk.screens.")]) > 5, "found no screens: wrong root?"
    assert any(m.name.startswith("simulators.") for m in found)
    return found


def test_no_module_is_over_400_lines(modules):
    violations = long_modules(modules)
    assert not violations, _report(violations)


def test_no_function_is_over_60_lines(modules):
    violations = long_functions(modules)
    assert not violations, _report(violations)


def test_the_simulators_import_nothing_from_the_kiosk(modules):
    violations = forbidden_imports(modules, ["simulators"], ["kiosk"])
    assert not violations, _report(violations)


def test_the_screens_reach_no_device_card_sync_or_liveness_code(modules):
    violations = forbidden_imports(modules, ["kiosk.screens"], FORBIDDEN_IN_SCREENS)
    assert not violations, _report(violations)


def test_the_screens_modules_import_each_other_without_a_cycle(modules):
    violations = import_cycles(modules, "kiosk.screens")
    assert not violations, _report(violations)


def test_the_flows_draw_nothing(modules):
    """The flow layer is UI-free: no pygame, no screens (the headless driver runs it without them)."""
    violations = forbidden_imports(modules, ["kiosk.flows"], ["pygame", "kiosk.screens", "kiosk.cli"])
    assert not violations, _report(violations)


def test_the_lower_layers_never_import_the_command_line_or_the_screens(modules):
    violations = forbidden_imports(modules, LOWER_LAYERS, UPPER_LAYERS)
    assert not violations, _report(violations)


# --- self-tests: each checker catches a violation ---------------------------------------------------

def _mods(sources: dict[str, str]) -> list[Module]:
    """Synthetic modules: path -> source."""
    return [Module.parse(path, src) for path, src in sources.items()]


def test_self_test_a_module_over_the_limit_is_named():
    ok, big = "x = 1\n" * MAX_MODULE_LINES, "x = 1\n" * (MAX_MODULE_LINES + 1)
    assert long_modules(_mods({"kiosk/small.py": ok})) == []
    assert long_modules(_mods({"kiosk/big.py": big})) == [f"kiosk/big.py:1 has {MAX_MODULE_LINES + 1} lines (limit 400)"]


def test_self_test_a_function_over_the_limit_is_named_with_its_line():
    def source(body_lines: int) -> str:
        return "import os\n\n\nclass A:\n    def m(self):\n" + "        x = 1\n" * body_lines
    assert long_functions(_mods({"kiosk/a.py": source(MAX_FUNCTION_LINES - 1)})) == []
    found = long_functions(_mods({"kiosk/a.py": source(MAX_FUNCTION_LINES)}))
    assert found == [f"kiosk/a.py:5 m() has {MAX_FUNCTION_LINES + 1} lines (limit 60)"]
    nested = "async def outer():\n    def inner():\n" + "        x = 1\n" * 70
    assert [v.split(" ")[:2] for v in long_functions(_mods({"kiosk/b.py": nested}))] == [
        ["kiosk/b.py:1", "outer()"], ["kiosk/b.py:2", "inner()"]]


def test_self_test_every_kind_of_import_from_the_kiosk_in_a_simulator_is_found():
    mods = _mods({
        "simulators/camera/__init__.py": "",
        "simulators/camera/camera.py": (
            "import numpy\n"
            "from simulators.camera import faces\n"
            "import kiosk.hw.ports\n"  # 3
            "from kiosk import config\n"  # 4
            "def f():\n"
            "    from kiosk.hw.health import DeviceHealth\n"  # 6: lazy
            "    import importlib\n"
            "    return importlib.import_module('kiosk.hw.ports')\n"  # 8: dynamic, literal
            "if False:\n"
            "    import kiosk\n"),  # 10
        "kiosk/hw/ports.py": "from simulators.camera import camera\n",  # the other way round is allowed
    })
    found = forbidden_imports(mods, ["simulators"], ["kiosk"])
    assert [v.split(" ")[0] for v in found] == [f"simulators/camera/camera.py:{n}" for n in (3, 4, 6, 8, 10)]
    assert found[2] == ("simulators/camera/camera.py:6 `from kiosk.hw.health import DeviceHealth`: "
                        "simulators.camera.camera may not import kiosk")
    assert "`importlib.import_module('kiosk.hw.ports')`" in found[3]


def test_self_test_a_screen_importing_a_device_layer_is_found_lazy_or_under_type_checking():
    mods = _mods({
        "kiosk/screens/__init__.py": "",
        "kiosk/screens/home.py": (
            "from typing import TYPE_CHECKING\n"
            "from kiosk.services import card_service\n"  # allowed
            "from kiosk.hardware import x\n"  # a prefix of no forbidden package: allowed
            "if TYPE_CHECKING:\n"
            "    from kiosk.hw.ports import Camera\n"  # 5
            "def f():\n"
            "    from ..card import apdu\n"  # 7: relative
            "    from kiosk import sync\n"),  # 8: a package named as a member
        "kiosk/services/card_service.py": "from kiosk.card import apdu\n",  # services may
    })
    found = forbidden_imports(mods, ["kiosk.screens"], FORBIDDEN_IN_SCREENS)
    assert [v.split(" ")[0] for v in found] == ["kiosk/screens/home.py:5", "kiosk/screens/home.py:7",
                                                 "kiosk/screens/home.py:8"]
    assert found[1].endswith("`from ..card import apdu`: kiosk.screens.home may not import kiosk.card")
    assert found[2].endswith("`from kiosk import sync`: kiosk.screens.home may not import kiosk.sync")


def test_self_test_an_import_cycle_among_screens_is_reported_with_its_lines():
    mods = _mods({
        "kiosk/screens/__init__.py": "from kiosk.screens.ui import Ui\n",  # the package itself: no cycle
        "kiosk/screens/ui.py": "import kiosk.screens.steps\n",
        "kiosk/screens/steps.py": "from kiosk.screens.theme import COLOURS\n",
        "kiosk/screens/theme.py": "X = 1\n\ndef f():\n    from . import ui\n",  # lazy, relative: 4
        "kiosk/screens/home.py": "from kiosk.screens import steps, theme\n",
        "kiosk/services/a.py": "from kiosk.screens import home\n",  # outside the package: not counted
    })
    found = import_cycles(mods, "kiosk.screens")
    assert found == ["import cycle: kiosk.screens.steps (kiosk/screens/steps.py:1) -> kiosk.screens.theme "
                     "(kiosk/screens/theme.py:4) -> kiosk.screens.ui (kiosk/screens/ui.py:1) -> kiosk.screens.steps"]
    acyclic = [m for m in mods if m.name != "kiosk.screens.theme"]
    assert import_cycles(acyclic, "kiosk.screens") == []
    assert import_cycles(_mods({"kiosk/screens/a.py": "from kiosk.screens import a\n"}), "kiosk.screens") == [
        "import cycle: kiosk.screens.a (kiosk/screens/a.py:1) -> kiosk.screens.a"]


def test_self_test_a_lower_layer_importing_the_command_line_or_a_screen_is_found():
    mods = _mods({
        "kiosk/sync/__init__.py": "",
        "kiosk/sync/__main__.py": "from kiosk.cli.sync import main\n",
        "kiosk/services/printing.py": "def f():\n    from kiosk import cli\n",
        "kiosk/domain/ids.py": "from kiosk.screens.theme import X\n",
        "kiosk/card/apdu.py": "from kiosk.client import x\nfrom kiosk.config import Config\n",  # allowed
        "kiosk/cli/__init__.py": "from kiosk.sync import daemon\n",  # the command line may import them
        "kiosk/app.py": "from kiosk.screens import home\n",
    })
    found = forbidden_imports(mods, LOWER_LAYERS, UPPER_LAYERS)
    assert [v.split(" ")[0] for v in found] == ["kiosk/sync/__main__.py:1", "kiosk/services/printing.py:2",
                                                 "kiosk/domain/ids.py:1"]


def test_self_test_the_repository_reader_finds_the_files_and_names_packages(tmp_path):
    (tmp_path / "kiosk" / "screens" / "__pycache__").mkdir(parents=True)
    (tmp_path / "kiosk" / "screens" / "__init__.py").write_text("")
    (tmp_path / "kiosk" / "screens" / "home.py").write_text("from . import steps\n")
    (tmp_path / "kiosk" / "screens" / "__pycache__" / "home.py").write_text("not python {")
    found = read_modules(tmp_path, ["kiosk"])
    assert [(m.path, m.name) for m in found] == [("kiosk/screens/__init__.py", "kiosk.screens"),
                                                 ("kiosk/screens/home.py", "kiosk.screens.home")]
    assert [i.targets for i in imports_of(found[1])] == [("kiosk.screens", "kiosk.screens.steps")]
