# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The service declares every workspace library it imports, so its image installs them."""

import ast
import tomllib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = next(p for p in PACKAGE.parents if (p / "uv.lock").exists())
APP = ROOT / "apps" / "notes"
LIBS = ROOT / "libs"


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name.endswith("_test.py") or path.name == "conftest.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_every_imported_workspace_library_is_a_declared_dependency():
    libraries = {p.name for p in LIBS.iterdir() if (p / "pyproject.toml").is_file()}
    project = tomllib.loads((APP / "pyproject.toml").read_text())["project"]
    declared = {
        d.split("[")[0].split(">")[0].split("=")[0].strip() for d in project["dependencies"]
    }
    used = _imported_top_levels() & libraries
    assert used, "expected the service to use at least one workspace library"
    assert used <= declared, (
        f"imported but not declared in apps/notes/pyproject.toml: {used - declared}"
    )
