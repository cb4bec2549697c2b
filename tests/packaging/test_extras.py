"""Each optional extra installs cleanly into a fresh virtual environment and brings what its
module needs: the package alone imports without any of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Each extra, in the order installed, with code that runs only once it is there.
EXTRAS = {
    "client": "from underway.client import Client; Client('http://127.0.0.1:9').close()",
    "webhooks": "import httpx, underway.webhooks",
    "opentelemetry": "import opentelemetry.trace, underway.contrib.opentelemetry",
    "postgres": "import psycopg, psycopg_pool",
    "server": "import fastapi, uvicorn, jinja2, underway.api",
    "django": "import django; from django.conf import settings; settings.configure("
    "INSTALLED_APPS=['underway.contrib.django'], DATABASES={'default': {'ENGINE': "
    "'django.db.backends.sqlite3', 'NAME': 'shop.db'}}); django.setup(); "
    "from underway.contrib.django import app; assert app.database_url.endswith('/shop.db')",
}


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def test_each_extra_installs_into_a_fresh_environment(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    python, pip = str(venv / "bin" / "python"), str(venv / "bin" / "pip")
    # The package is built once (from this tree, as pip would), and each extra installed
    # from that wheel: building it anew for every extra was most of this test's time.
    built = run([pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)])
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("underway-*.whl")
    base = run([pip, "install", "--quiet", str(wheel)])
    assert base.returncode == 0, base.stderr
    alone = run([python, "-c", "import underway; underway.App('memory://').close()"])
    assert alone.returncode == 0, alone.stderr
    missing = run([python, "-c", "import underway.contrib.opentelemetry"])
    assert missing.returncode != 0
    for extra, check in EXTRAS.items():
        installed = run([pip, "install", "--quiet", f"{wheel}[{extra}]"])
        assert installed.returncode == 0, f"[{extra}]: {installed.stderr}"
        imported = run([python, "-c", check])
        assert imported.returncode == 0, f"[{extra}]: {imported.stderr}"
