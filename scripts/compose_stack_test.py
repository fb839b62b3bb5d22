# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Compose projects of the service: what makes two of them independent (no Docker needed)."""

import compose_stack as cs
import pytest


def test_each_stack_has_a_name_ports_and_secrets_of_its_own():
    first, second = cs.Stack.new("notes:a"), cs.Stack.new("notes:a")
    assert first.name != second.name
    for name in ("API_PORT", "POSTGRES_PORT", "POSTGRES_PASSWORD", "NOTES_CURSOR_SECRET"):
        assert first.variables[name] != second.variables[name]
    assert first.variables["API_PORT"] != first.variables["POSTGRES_PORT"]
    assert first.image == second.image == "notes:a"
    assert first.api_url == f"http://127.0.0.1:{first.variables['API_PORT']}"


def test_variables_given_win_over_generated_ones():
    stack = cs.Stack.new("notes:a", API_PORT="18080", COVERAGE_DATA_DIR="/x")
    assert stack.variables["API_PORT"] == "18080"
    assert stack.variables["COVERAGE_DATA_DIR"] == "/x"


def test_a_stack_survives_the_trip_to_another_process(tmp_path):
    stack = cs.Stack.new("notes:a", directory=tmp_path, files=(cs.BASE, cs.COVERAGE))
    assert cs.Stack.from_json(stack.to_json()) == stack


def test_compose_gets_the_stacks_variables_over_the_callers(monkeypatch):
    monkeypatch.setenv("API_PORT", "8080")
    monkeypatch.setenv("UNRELATED", "kept")
    environment = cs.Stack.new("notes:a").environment()
    assert environment["API_PORT"] != "8080"
    assert environment["UNRELATED"] == "kept"


def test_no_engine_is_reported_when_docker_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cs.engine_answers() is False


def test_a_failed_docker_command_raises_with_its_output(monkeypatch, tmp_path):
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\necho "no such thing: $*"\nexit 3\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(cs.DockerError, match=r"exited with 3:\nno such thing: version"):
        cs.docker("version")
    assert cs.docker("version", check=False).returncode == 3
