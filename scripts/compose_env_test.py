# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The env file that gives Compose its secrets."""

import stat

import compose_env as ce


def test_a_missing_file_gets_every_secret_readable_by_its_owner_only(tmp_path):
    path = tmp_path / ".env"
    assert ce.ensure(path) == ["POSTGRES_PASSWORD", "NOTES_CURSOR_SECRET"]
    values = ce.assigned(path.read_text())
    assert set(values) == {"POSTGRES_PASSWORD", "NOTES_CURSOR_SECRET"}
    assert len(values["NOTES_CURSOR_SECRET"].encode()) >= 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_values_already_there_are_kept_and_only_the_missing_ones_added(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# mine\nexport POSTGRES_PASSWORD='kept'\nAPI_PORT=9000")
    assert ce.ensure(path) == ["NOTES_CURSOR_SECRET"]
    text = path.read_text()
    assert text.startswith("# mine\nexport POSTGRES_PASSWORD='kept'\nAPI_PORT=9000\n")
    assert ce.assigned(text)["POSTGRES_PASSWORD"] == "kept"
    assert ce.ensure(path) == []
    assert path.read_text() == text


def test_empty_or_commented_assignments_count_as_missing():
    text = "POSTGRES_PASSWORD=\n# NOTES_CURSOR_SECRET=abc\n"
    assert [line.split("=")[0] for line in ce.missing_lines(text)] == [
        "POSTGRES_PASSWORD",
        "NOTES_CURSOR_SECRET",
    ]


def test_each_file_gets_values_of_its_own(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    ce.ensure(first)
    ce.ensure(second)
    assert ce.assigned(first.read_text()) != ce.assigned(second.read_text())


def test_generated_values_need_no_quoting_in_a_url_or_an_env_file():
    for make in ce.GENERATED.values():
        value = make()
        assert value.replace("-", "").replace("_", "").isalnum()
