# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""schemathesis against the running app's own OpenAPI document: no 5xx, no answer that breaks
the document. ``make check`` runs a short, seeded pass; ``make fuzz`` a long one
(``NOTES_FUZZ_MAX_EXAMPLES``, ``NOTES_FUZZ_MAX_TIME``), which prints its figures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.external

# The checks of every response; one is left out, with its reason:
# - positive_data_acceptance expects every request the document allows to succeed, but the
#   API refuses, by design, requests whose fault no JSON schema can describe: a cursor the API
#   did not sign (400), an entity tag of another version (412), an If-Match that is not an
#   entity-tag list (400), text with NUL (422), an email email-validator rejects (422), a PATCH
#   of no field (422). Each such answer is in the document.
EXCLUDED_CHECKS = "positive_data_acceptance"
# schemathesis has no serializer of its own for NDJSON (the body of POST /notes/import): the
# strings it draws for that body go on the wire as text, under the declared media type.
HOOKS = """
import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")
"""


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
    app_server, app_token, tmp_path
):
    examples = os.environ.get("NOTES_FUZZ_MAX_EXAMPLES", "6")
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{app_server}/openapi.json",
        "--header",
        f"Authorization: Bearer {app_token}",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        # Logging out would leave the rest of the run without a valid token.
        "--exclude-path",
        "/tokens/current",
        # A live event stream never ends: each request would wait for schemathesis's time-out
        # (2.5 minutes a run). Its answers to bad input are tested in routers/events_test.py.
        "--exclude-path",
        "/events/",
        "--max-examples",
        examples,
        "--seed",
        os.environ.get("NOTES_FUZZ_SEED", "1"),
        "--workers",
        "1",
        "--no-color",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    if "NOTES_FUZZ_MAX_TIME" in os.environ:
        command += ["--max-time", os.environ["NOTES_FUZZ_MAX_TIME"]]
    hooks = tmp_path / "ndjson_hooks.py"
    hooks.write_text(HOOKS)
    # In the test's own folder: schemathesis keeps a cache of what it found where it runs.
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(hooks)},
    )
    summary = done.stdout[done.stdout.rfind("SUMMARY") :]
    print(summary)  # noqa: T201 - make fuzz shows the figures
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    assert "generated" in summary
