"""Schemathesis against the live server's /openapi.json: default checks, stateful included.

Bounded examples and a fixed seed keep it quick and repeatable. It runs the CLI, as
`schemathesis run URL` is what the issue promises to pass.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from underway import App
from underway.api import StreamSettings, create_api

from .conftest import MANAGE_TOKEN, TOKENS, VIEW_TOKEN
from .support import LiveServer

SEED = 20261123
MAX_EXAMPLES = 10
#: A recurring definition can be schema-valid yet meaningless (cron "61 * * * *", a timezone
#: that does not exist, arguments that do not fit the chosen job): JSON Schema cannot say so,
#: and the API answers those with 422 and field errors, which is right. So is a submit
#: that gives both `delay` and `run_at`, which JSON Schema cannot forbid for query parameters,
#: and a workflow or batch whose steps' arguments do not fit their jobs.
CONFIG = """
[[operations]]
include-operation-id = "create_recurring"
checks.positive_data_acceptance.expected-statuses = [201, 401, 403, 409, 422]

[[operations]]
include-operation-id = ["create_workflow", "create_batch"]
checks.positive_data_acceptance.expected-statuses = [202, 401, 403, 422]

[[operations]]
include-tag = "submit"
checks.positive_data_acceptance.expected-statuses = [200, 202, 303, 401, 403, 409, 422]
"""


@pytest.fixture
def fuzzed(app: App) -> Iterator[LiveServer]:
    """A live server whose waits and streams are short, so that fuzzing never idles."""
    api = create_api(
        app, tokens=TOKENS, max_wait_s=0.5, streams=StreamSettings(poll_s=0.05, max_s=0.3)
    )
    server = LiveServer(api).start()
    yield server
    server.stop()


def schemathesis(
    url: str,
    tmp_path: Path,
    *options: str,
    max_examples: int = MAX_EXAMPLES,
    schema: str | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        schema or f"{url}/openapi.json",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--no-color",
        *options,
    ]
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    return subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False
    )


def test_schemathesis_passes_with_a_manage_token(fuzzed: LiveServer, tmp_path: Path) -> None:
    run = schemathesis(fuzzed.url, tmp_path, "--header", f"Authorization: Bearer {MANAGE_TOKEN}")

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Stateful" in run.stdout


def test_schemathesis_passes_without_a_token(fuzzed: LiveServer, tmp_path: Path) -> None:
    # Every answer is a 401 here; the coverage phase adds nothing that the run above lacks.
    # The document itself needs jobs:view, so it is read with a view token beforehand.
    document = httpx.get(
        f"{fuzzed.url}/openapi.json", headers={"Authorization": f"Bearer {VIEW_TOKEN}"}
    )
    (tmp_path / "openapi.json").write_bytes(document.raise_for_status().content)
    run = schemathesis(
        fuzzed.url,
        tmp_path,
        "--url",
        fuzzed.url,
        "--phases",
        "fuzzing,stateful",
        max_examples=5,
        schema="openapi.json",
    )

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
