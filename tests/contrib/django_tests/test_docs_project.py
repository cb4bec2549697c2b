"""docs/django.md's project files (its `python file=PATH` blocks), written out as a project
and run: migrations, an order placed through the view with its receipt job run, a rolled-back
order without one, the dashboard mount sending an anonymous visitor to the login page, and
the page's own tests under `manage.py test`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import clean_environment

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = ROOT / "docs" / "django.md"
FILE_BLOCK = re.compile(r"^```python file=(\S+)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
#: Run in the project with Django set up: what a newcomer would try after reading the page.
CHECK = """\
import asyncio

import httpx
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from underway.contrib.django import app
from underway.testing import drain

call_command("makemigrations", "shop", verbosity=0)
call_command("migrate", verbosity=0)
call_command("underway", "migrate")

placed = Client().post("/orders", {"item": "tea"})
assert placed.status_code == 201, placed.content
resent = Client().post(f"/orders/{placed.json()['order']}/receipt")
assert resent.status_code == 202, resent.content

from shop.models import Order
from shop.views import send_receipt
from underway.contrib.django import in_transaction

try:
    with transaction.atomic():
        order = Order.objects.create(item="cake")
        in_transaction(send_receipt).enqueue(order_id=order.pk)
        raise RuntimeError("declined")
except RuntimeError:
    pass

assert [job.result for job in drain(app)] == ["receipt for tea"] * 2


async def anonymous_visit() -> httpx.Response:
    from shop.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as site:
        return await site.get("/jobs/dashboard", headers={"accept": "text/html"})


visit = asyncio.run(anonymous_visit())
assert visit.status_code == 302, visit
assert visit.headers["location"] == "/accounts/login/?next=/jobs/dashboard", visit.headers
app.close()
print("the project of docs/django.md works")
"""


def project_files() -> dict[str, str]:
    return {match.group(1): match.group(2) for match in FILE_BLOCK.finditer(DOCUMENT.read_text())}


def test_the_page_shows_the_files_of_a_whole_project() -> None:
    assert set(project_files()) >= {
        "shop/settings.py",
        "shop/models.py",
        "shop/jobs.py",
        "shop/views.py",
        "shop/urls.py",
        "shop/asgi.py",
        "shop/tests.py",
    }


def test_the_project_of_the_page_runs(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "manage.py").write_text(MANAGE_PY)
    for path, text in project_files().items():
        (tmp_path / path).write_text(text)
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CHECK],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the project of docs/django.md works" in done.stdout
    tested = subprocess.run(
        [sys.executable, "manage.py", "test", "shop", "-v", "2"],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "Ran 3 tests" in tested.stderr
