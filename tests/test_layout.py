"""The layout stays true: lower wings never import higher ones, nothing in kb_engine imports web or Flask,
no import loop, no module past the size a reader can hold.

The rules are read from the modules' own import statements (module level and inside functions alike), so a
broken rule fails here however the import is written.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kb_engine"

# Each wing may import the wings listed, and the top-level modules (config, errors).
ALLOWED = {
    "content": set(),
    "search": {"content"},
    "helpdesk": {"content", "search", "insights", "authoring"},
    "insights": {"content", "search", "helpdesk", "authoring"},
    "authoring": {"content", "search", "helpdesk", "insights"},
    "bench": {"content", "search"},
    # Outer rooms: they use the wings above, none of those imports them.
    "integrations": {"content", "search", "helpdesk", "insights", "authoring"},
    "ops": {"content", "search", "helpdesk", "insights"},
    "cli": {"content", "search", "helpdesk", "insights", "authoring", "bench", "integrations", "ops"},
}
ENTRY_POINT = "kb_engine.__main__"  # `python -m kb_engine`: runs the CLI
FORBIDDEN_EVERYWHERE = ("web", "flask")
MAX_LINES = 560  # "no module over ~500 lines"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved against `name`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from kb_engine.search import lexical` imports the module kb_engine.search.lexical
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports."""
    modules = {module_name(p, root): p for p in root.rglob("*.py") if "migrations" not in p.parts}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges[name] = {dep for dep in imports_of(path, name) if dep in modules and dep != name}
        edges[name].update(dep for dep in imports_of(path, name) if dep.split(".")[0] in FORBIDDEN_EVERYWHERE)
    return edges


def wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


def violations(root: Path) -> list[str]:
    found = []
    for module, deps in graph(root).items():
        own = wing(module)
        for dep in deps:
            if dep.split(".")[0] in FORBIDDEN_EVERYWHERE:
                found.append(f"{module} imports {dep} (kb_engine never imports web or Flask)")
                continue
            other = wing(dep)
            if other is None or other == own:  # the top-level modules (config, errors) serve every wing
                continue
            if own is not None and own not in ALLOWED:
                found.append(f"{module} is in a wing this test does not know ({own}): add it to ALLOWED")
            elif own is None:
                if module != ENTRY_POINT:
                    found.append(f"{module} (top level) imports the wing {other} ({dep})")
            elif other not in ALLOWED[own]:
                found.append(
                    f"{module} ({own}) imports {dep} ({other}): {own} may import {sorted(ALLOWED[own])}"
                )
    return sorted(found)


def cycles(root: Path) -> list[list[str]]:
    """Import loops between modules (Tarjan's strongly connected components larger than one module)."""
    modules = graph(root)
    edges = {m: deps & modules.keys() for m, deps in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in edges[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_lower_wings_never_import_higher_ones():
    assert violations(PACKAGE) == []


def test_no_import_loop():
    assert cycles(PACKAGE) == []


def test_every_wing_is_a_package_that_says_what_it_offers():
    for name in ALLOWED:
        init = PACKAGE / name / "__init__.py"
        if name in {"integrations", "ops"} and not init.parent.exists():
            continue  # an outer room not built yet
        assert init.is_file(), name
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), (
            f"{name}/__init__.py has no docstring"
        )


def test_no_module_past_the_size_a_reader_can_hold():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def write(tmp: Path, files: dict[str, str]) -> Path:
    root = tmp / "kb_engine"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"content/a.py": "from kb_engine.search import lexical\n", "search/lexical.py": ""}, "content.a"),
        (
            {
                "search/a.py": "def f():\n    from kb_engine.helpdesk.models import Ticket\n",
                "helpdesk/models.py": "",
            },
            "search.a",
        ),
        ({"insights/a.py": "import flask\n"}, "flask"),
        ({"helpdesk/a.py": "from web import create_app\n"}, "web"),
        ({"content/a.py": "from ..cli import main\n", "cli/main.py": ""}, "cli"),
    ],
)
def test_the_rules_catch_a_broken_layout(tmp_path, files, expected):
    found = violations(write(tmp_path, files))
    assert found and any(expected in line for line in found), found


def test_the_loop_check_catches_a_loop(tmp_path):
    root = write(
        tmp_path,
        {"search/a.py": "from kb_engine.search import b\n", "search/b.py": "import kb_engine.search.a\n"},
    )
    assert cycles(root) == [["kb_engine.search.a", "kb_engine.search.b"]]
