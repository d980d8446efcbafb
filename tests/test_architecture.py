"""The shape of the house: no import cycles, no module over 600 lines, data flowing one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "photoloupe"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str) -> set[str]:
    """The package's modules that `name` imports anywhere (inside functions too: an import
    moved into a function still makes the two modules depend on each other), except under
    `if TYPE_CHECKING:`."""
    path = modules()[name]
    tree = ast.parse(path.read_text("utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules() else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in modules() and m != name}


def cycles() -> list[list[str]]:
    """Every strongly connected group of modules with more than one member (Tarjan)."""
    graph = {m: sorted(imports_of(m)) for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            connect(v)
    return groups


def test_there_are_no_import_cycles() -> None:
    assert cycles() == []


def test_the_cycle_finder_sees_a_cycle_hidden_in_a_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from photoloupe import b\n")
    (pkg / "b.py").write_text("def f():\n    from photoloupe.a import x\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import photoloupe.a\n"
    )
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    modules.cache_clear()
    try:
        assert cycles() == [["photoloupe.a", "photoloupe.b"]]
    finally:
        modules.cache_clear()


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_600_lines(name: str) -> None:
    lines = len(modules()[name].read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


# Data flows one way: each layer may import only those below it.
HIGHER = (
    "photoloupe.report",
    "photoloupe.server",
    "photoloupe.cli",
    "photoloupe.pipeline",
    "photoloupe.batch",
)
LOWER = (
    "photoloupe.schema",
    "photoloupe.io",
    "photoloupe.errors",
    "photoloupe.findings",
    "photoloupe.provenance",
    "photoloupe.forensics",
    "photoloupe.detect",
    "photoloupe.localize",
    "photoloupe.verdict",
    "photoloupe.analysis",
    "photoloupe.registry",
)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_contract_imports_nothing_of_photoloupe() -> None:
    for name in modules():
        if _within(name, ("photoloupe.schema",)):
            assert imports_of(name) <= {"photoloupe.schema"} | {
                m for m in modules() if m.startswith("photoloupe.schema.")
            }, name


def test_no_lower_layer_imports_a_renderer_the_server_or_the_pipeline() -> None:
    wrong = {
        (name, target)
        for name in modules()
        if _within(name, LOWER)
        for target in imports_of(name)
        if _within(target, HIGHER)
    }
    assert wrong == set()


def test_the_package_root_exposes_its_public_names_lazily() -> None:
    import photoloupe

    assert set(photoloupe.__all__) == {*photoloupe._PUBLIC, "__version__", "compare"}
    import photoloupe.compare.relation  # importing the subpackage again ...

    assert callable(photoloupe.compare)  # ... leaves the name bound to the function
    for name in photoloupe.__all__:
        assert getattr(photoloupe, name) is not None
    with pytest.raises(AttributeError):
        _ = photoloupe.no_such_name  # type: ignore[attr-defined]


def test_a_check_imports_neither_the_server_nor_weasyprint_nor_torch_nor_onnx() -> None:
    # Start-up counts in a check's time: a command imports only what it uses.
    script = (
        "import sys\n"
        "from photoloupe import cli\n"
        "sys.argv = ['photoloupe', 'check', 'examples/harbour.jpg', '--json']\n"
        "try:\n"
        "    cli.app()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('photoloupe.server', 'weasyprint', 'torch', 'onnx.')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy) or m == 'onnx'),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("{")
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_analyses_sit_below_their_registry_and_the_fusion() -> None:
    # An analysis module sees only `photoloupe.analysis` (the seam) and what lies below it.
    analyses = ("photoloupe.forensics", "photoloupe.detect", "photoloupe.analysis")
    above = ("photoloupe.registry", "photoloupe.localize", "photoloupe.verdict")
    wrong = {
        (name, target)
        for name in modules()
        if _within(name, analyses)
        for target in imports_of(name)
        if _within(target, above)
    }
    assert wrong == set()


def test_the_readme_layout_names_every_part_of_the_package_and_nothing_else() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    layout = text.split("## Layout", 1)[1].split("```")[1]
    listed = {
        line.split()[0].rstrip("/").removesuffix(".py")
        for line in layout.splitlines()
        if line.startswith("  ") and not line.startswith("   ") and line.strip()
    }
    package = SRC / "photoloupe"
    present = {
        p.stem if p.suffix == ".py" else p.name
        for p in package.iterdir()
        if not p.name.startswith(("_", "."))
        and (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    }
    assert listed == present
