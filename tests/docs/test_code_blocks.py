"""Every Python block in README.md and docs/ runs as pasted, each in a fresh folder.

A block is saved as `jobs.py` and run with the test's interpreter. A block of tests (it
defines `test_...` functions) is saved as `test_jobs.py` and run by pytest. A block that
starts a web server (`uvicorn.run`) passes once the server answers a request; it is then
stopped.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.user_environment import user_environment

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
SERVER_LINE = re.compile(r"Uvicorn running on (http://\S+)")
RUN_TIMEOUT_S = 90.0


def code_blocks() -> list[object]:
    found: list[object] = []
    for document in DOCUMENTS:
        text = document.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            name = f"{document.relative_to(ROOT)}:{line}"
            found.append(pytest.param(match.group(1), id=name))
    return found


def test_the_documents_have_python_blocks() -> None:
    assert len(code_blocks()) >= 10


@pytest.mark.parametrize("code", code_blocks())
def test_block_runs_as_pasted(code: str, tmp_path: Path) -> None:
    is_tests = re.search(r"^def test_", code, re.MULTILINE) is not None
    script = tmp_path / ("test_jobs.py" if is_tests else "jobs.py")
    script.write_text(code)
    if "uvicorn.run(" in code:
        serve_until_it_answers(script)
        return
    run = (
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", script.name] if is_tests else [script.name]
    )
    done = subprocess.run(
        [sys.executable, *run],
        cwd=tmp_path,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr


def serve_until_it_answers(script: Path) -> None:
    """Start the block's server, wait for its address, request it, stop it."""
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=script.parent,
        env=user_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        url, seen = None, []
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = SERVER_LINE.search(line)
            url = match.group(1) if match else None
        assert url is not None, "the server never started:\n" + "".join(seen)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status < 500, f"{url} answered {status}"
    finally:
        process.terminate()
        process.wait(timeout=30)
