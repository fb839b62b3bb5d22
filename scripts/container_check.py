"""Static checks of the container files, for machines where no Docker engine runs.

    python scripts/container_check.py

Checks what hadolint and the Compose schema cannot see on their own:

- the build context that .dockerignore lets through holds the code, the migrations and every
  workspace member's pyproject.toml, and no tests, local data or secrets;
- the Dockerfile copies every workspace member's pyproject.toml before its first ``uv sync``
  (uv checks the lock against the whole workspace), and its Python is .python-version's;
- docker-compose.override.yml only extends services that docker-compose.yml defines, and the
  two merged (as ``docker compose`` merges them) still follow the Compose specification;
- docker-compose.yml mounts no source (CI tests the image as it ships) and publishes host
  ports on loopback only, each taken from the environment;
- base images are parameters: every ``FROM`` names a build argument or an earlier stage, each
  ``*_IMAGE`` argument's default comes from a registry .hadolint.yaml trusts (hadolint cannot
  see through ``FROM ${...}``), there is no ``# syntax=`` line (BuildKit would pull its
  frontend image), ``runtime`` is the last stage; Compose passes ``PYTHON_IMAGE`` and
  ``UV_IMAGE`` to every build and takes the database image from ``POSTGRES_IMAGE``;
- Compose gives no secret a default: every variable whose name says PASSWORD, SECRET, TOKEN or
  KEY is written ``${NAME:?message}``, and the database does not log every statement;
- docker-compose.coverage.yml (``make container_test``) extends only services the base file
  defines (besides services of its own), and the two merged follow the Compose specification.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent

# Files the image cannot work without, relative to the build context.
REQUIRED_IN_CONTEXT = (
    "pyproject.toml",
    "uv.lock",
    "apps/notes/alembic.ini",
    "apps/notes/migrations/env.py",
    "apps/notes/src/notes/__main__.py",
)
# Compose keys whose lists are replaced, not merged, by an override file.
REPLACED_LISTS = frozenset({"command", "entrypoint", "test"})

# --- .dockerignore, as Docker reads it -------------------------------------------------------


class DockerIgnore:
    """The rules of a .dockerignore file: later rules win, ``!`` lets a path back in.

    A rule that matches a folder also matches everything below it; ``**`` matches any number
    of folders, ``*`` and ``?`` never match ``/``.
    """

    def __init__(self, text: str) -> None:
        self._rules: list[tuple[re.Pattern[str], bool]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keep = line.startswith("!")
            pattern = line.removeprefix("!").strip().strip("/")
            self._rules.append((_pattern_regex(pattern), keep))

    def excludes(self, path: str) -> bool:
        """Whether ``path`` (relative, with ``/``) stays out of the build context."""
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for regex, keep in self._rules:
            if any(regex.fullmatch(c) for c in candidates):
                excluded = not keep
        return excluded

    def context(self, root: Path) -> list[str]:
        """The files of ``root`` that the build context receives."""
        return sorted(
            rel
            for rel in (p.relative_to(root).as_posix() for p in _files(root))
            if not self.excludes(rel)
        )


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _files(root: Path) -> Iterator[Path]:
    skip = {".git", ".venv", ".tools", ".data", "mutants", "node_modules"}
    for path in root.iterdir():
        if path.is_dir():
            if path.name not in skip:
                yield from _files(path)
        else:
            yield path


def check_context(files: Iterable[str], members: Iterable[str]) -> list[str]:
    """Problems with the build context's file list."""
    present = set(files)
    problems = [
        f"build context lacks {needed}"
        for needed in [*REQUIRED_IN_CONTEXT, *(f"{m}/pyproject.toml" for m in members)]
        if needed not in present
    ]
    for path in sorted(present):
        name = path.rsplit("/", 1)[-1]
        if (
            name.endswith("_test.py")
            or name == "conftest.py"
            or name.startswith(".env")
            or path.startswith((".data/", ".venv/", ".git/"))
        ):
            problems.append(f"build context includes {path}")
    return problems


# --- the Dockerfile --------------------------------------------------------------------------


def workspace_members(root: Path) -> list[str]:
    """The workspace members' folders, relative to ``root``."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    globs = config["tool"]["uv"]["workspace"]["members"]
    return sorted(
        p.parent.relative_to(root).as_posix()
        for pattern in globs
        for p in root.glob(f"{pattern}/pyproject.toml")
    )


def check_dockerfile(text: str, members: Iterable[str], python_version: str) -> list[str]:
    """Problems with the Dockerfile: lock inputs copied before the first sync, Python pinned."""
    problems = []
    first_sync = text.find("uv sync")
    if first_sync < 0:
        problems.append("the Dockerfile never runs uv sync")
    before_sync = text[: max(first_sync, 0)]
    copied = {
        name
        for line in re.findall(r"^COPY\s+(.+)$", before_sync, flags=re.MULTILINE)
        for name in line.split()[:-1]
    }
    for member in members:
        if f"{member}/pyproject.toml" not in copied:
            problems.append(f"{member}/pyproject.toml is not copied before the first uv sync")
    for needed in ("pyproject.toml", "uv.lock"):
        if needed not in copied:
            problems.append(f"{needed} is not copied before the first uv sync")
    image = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)\S*$", text, flags=re.MULTILINE)
    if image is None:
        problems.append("no ARG PYTHON_IMAGE=python:X.Y... default in the Dockerfile")
    elif image.group(1) != python_version:
        problems.append(
            f"the image's Python is {image.group(1)}, .python-version says {python_version}"
        )
    return problems


def check_base_images(text: str, trusted: Iterable[str]) -> list[str]:
    """Problems with how the Dockerfile names its base images."""
    problems = []
    if re.search(r"^#\s*syntax\s*=", text, flags=re.MULTILINE | re.IGNORECASE):
        problems.append("a # syntax= line makes BuildKit pull a frontend image: drop it")
    defaults = dict(re.findall(r"^ARG\s+(\w+_IMAGE)=(\S+)\s*$", text, flags=re.MULTILINE))
    for needed in ("PYTHON_IMAGE", "UV_IMAGE"):
        if needed not in defaults:
            problems.append(f"no ARG {needed}=... default in the Dockerfile")
    allowed = set(trusted)
    for name, image in sorted(defaults.items()):
        if registry_of(image) not in allowed:
            problems.append(f"ARG {name}={image}: {registry_of(image)} is not a trusted registry")
    stages: list[str] = []
    for image, stage in re.findall(
        r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.MULTILINE | re.IGNORECASE
    ):
        if not (image.startswith("${") or image.lower() in stages or image == "scratch"):
            problems.append(f"FROM {image}: take base images from build arguments")
        stages.append(stage.lower())
    if stages and stages[-1] != "runtime":
        problems.append("the last stage is not runtime: a plain docker build would not build it")
    return problems


def registry_of(image: str) -> str:
    """The registry an image reference pulls from (Docker Hub unless a host is named)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


# --- Compose ---------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)([^}]*)\}|([A-Za-z_]\w*))")


def check_secrets(text: str, source: str) -> list[str]:
    """Secrets in a Compose file that may be left out or empty without stopping Compose."""
    problems = []
    for braced, rest, bare in _VARIABLE.findall(text):
        name = braced or bare
        if _SECRET_NAME.search(name) and not rest.startswith(":?"):
            problems.append(
                f"{source}: ${{{name}{rest}}} lets a secret default or be empty: "
                f"write ${{{name}:?message}}"
            )
    return problems


def check_build_args(services: dict[str, Any]) -> list[str]:
    """Services that build the image without passing the base images through."""
    problems = []
    for name, service in services.items():
        build = service.get("build")
        if not isinstance(build, dict):
            continue
        args = build.get("args", [])
        passed = {a.split("=", 1)[0] for a in args} if isinstance(args, list) else set(args)
        problems += [
            f"{name} builds without passing {arg} through"
            for arg in ("PYTHON_IMAGE", "UV_IMAGE")
            if arg not in passed
        ]
    return problems


def check_database(services: dict[str, Any]) -> list[str]:
    """The database's image comes from the environment; it does not log every statement."""
    problems = []
    database = services.get("database", {})
    if not re.fullmatch(r"\$\{POSTGRES_IMAGE:-postgres:[\w.-]+\}", str(database.get("image"))):
        problems.append("the database image is not ${POSTGRES_IMAGE:-postgres:VERSION}")
    command = database.get("command", [])
    words = command if isinstance(command, list) else str(command).split()
    if "log_statement=all" in words:
        problems.append("the database logs every statement by default")
    return problems


def merge_files(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged into ``base`` the way ``docker compose -f base -f override`` does."""
    merged = merge(base, override)
    assert isinstance(merged, dict)  # noqa: S101 - two mappings merge into a mapping
    return merged


def merge(base: object, override: object, key: str = "") -> object:
    """One value of an override file merged into the base file's value under ``key``."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for k, value in override.items():
            merged[k] = merge(base[k], value, k) if k in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in REPLACED_LISTS:
        if key == "volumes":
            by_target = {_mount_target(v): v for v in base}
            by_target.update({_mount_target(v): v for v in override})
            return list(by_target.values())
        return base + [item for item in override if item not in base]
    return override


def _mount_target(volume: object) -> str:
    if isinstance(volume, dict):
        return str(volume["target"])
    parts = str(volume).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


@cache
def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as vendored by check-jsonschema."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def schema_errors(document: object) -> list[str]:
    """Where ``document`` breaks the Compose specification."""
    validator = jsonschema.Draft202012Validator(compose_schema())
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def check_compose(
    base: dict[str, Any], override: dict[str, Any], coverage: dict[str, Any] | None = None
) -> list[str]:
    """Problems with the base Compose file, its development override and, if given, the
    coverage overlay (which may add services of its own)."""
    services: dict[str, Any] = base.get("services", {})
    problems = [
        f"the override defines {name}, which docker-compose.yml does not"
        for name in override.get("services", {})
        if name not in services
    ]
    if coverage is not None:
        extends = [
            name for name, service in coverage.get("services", {}).items() if "image" not in service
        ]
        problems += [
            f"the coverage file extends {name}, which docker-compose.yml does not define"
            for name in extends
            if name not in services
        ]
        problems += [
            f"merged with the coverage file: {e}"
            for e in schema_errors(merge_files(base, coverage))
        ]
        problems += check_build_args(coverage.get("services", {}))
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.get("source", "") if isinstance(volume, dict) else volume
            if str(source).startswith((".", "/")):
                problems.append(
                    f"{name} mounts {source} in docker-compose.yml: CI would not test the image"
                )
        for port in service.get("ports", []):
            if not re.fullmatch(r"127\.0\.0\.1:\$\{[A-Z_]+:-\d+\}:\d+", str(port)):
                problems.append(
                    f"{name} publishes {port}: use 127.0.0.1:${{NAME_PORT:-default}}:port"
                )
    problems += check_build_args(services)
    problems += [f"docker-compose.yml: {e}" for e in schema_errors(base)]
    problems += [
        f"merged with the override: {e}" for e in schema_errors(merge_files(base, override))
    ]
    return problems


def run(root: Path) -> list[str]:
    """Every problem found in the container files under ``root``."""
    members = workspace_members(root)
    ignore = DockerIgnore((root / ".dockerignore").read_text())
    python_version = (root / ".python-version").read_text().strip()
    compose_files = {
        name: (root / name).read_text()
        for name in (
            "docker-compose.yml",
            "docker-compose.override.yml",
            "docker-compose.coverage.yml",
        )
    }
    base, override, coverage = (yaml.safe_load(text) for text in compose_files.values())
    dockerfile = (root / "Dockerfile").read_text()
    trusted = yaml.safe_load((root / ".hadolint.yaml").read_text()).get("trustedRegistries", [])
    return [
        *check_context(ignore.context(root), members),
        *check_dockerfile(dockerfile, members, python_version),
        *check_base_images(dockerfile, trusted),
        *check_compose(base, override, coverage),
        *check_database(base.get("services", {})),
        *(p for name, text in compose_files.items() for p in check_secrets(text, name)),
    ]


def main() -> int:
    """Print the problems found; exit 1 if there are any."""
    problems = run(ROOT)
    for problem in problems:
        print(f"container_check: {problem}")
    if not problems:
        print("container_check: build context, Dockerfile and Compose files are consistent")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
