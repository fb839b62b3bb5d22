"""The package's public surface and its independence from any application."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import eventing

PACKAGE = Path(eventing.__file__).parent


def test_public_names_are_exactly_those_in_all() -> None:
    assert set(eventing.__all__) == {
        "BatchResult",
        "CycleError",
        "DispatchResult",
        "DuplicateListenerError",
        "EventBus",
        "EventingError",
        "PartialFailureError",
        "UnknownListenerError",
    }
    assert len(eventing.__all__) == len(set(eventing.__all__))
    for name in eventing.__all__:
        assert getattr(eventing, name).__module__.startswith("eventing.")
    # Test modules beside the code become attributes of the package once pytest imports them.
    public = {name for name in vars(eventing) if not name.startswith("_")}
    assert {name for name in public if not name.endswith("_test")} == set(eventing.__all__)
    star: dict[str, object] = {}
    exec("from eventing import *", star)  # noqa: S102
    assert set(star) - {"__builtins__"} == set(eventing.__all__)


def test_the_package_is_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()


def test_the_library_imports_only_the_standard_library_and_networkx() -> None:
    allowed = set(sys.stdlib_module_names) | {"eventing", "networkx"}
    modules = [path for path in PACKAGE.glob("*.py") if not path.name.endswith("_test.py")]
    assert PACKAGE / "_bus.py" in modules

    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported = [node.module]
            else:
                continue
            for module in imported:
                assert module.split(".")[0] in allowed, f"{path.name} imports {module}"
            assert not any("notes" in module for module in imported)
