"""Which frames of a stored traceback the job page folds as underway's own (no browser)."""

from __future__ import annotations

from underway.dashboard.tracebacks import traceback_parts

ELSEWHERE = "/opt/app/.venv/lib/python3.12/site-packages/underway/worker/execution.py"
TRACEBACK = f"""Traceback (most recent call last):
  File "{ELSEWHERE}", line 240, in _execute
    value = await self._call(definition)
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.12/concurrent/futures/thread.py", line 58, in run
    result = self.fn(*self.args, **self.kwargs)
  File "/srv/shop/jobs.py", line 12, in charge
    return gateway.charge(order)
  File "/srv/shop/gateway.py", line 40, in charge
    json.loads(body)
  File "/usr/lib/python3.12/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
ValueError: Expecting value
"""


def test_underways_frames_fold_with_the_stdlib_between_them_wherever_it_is_installed() -> None:
    parts = traceback_parts(TRACEBACK)

    assert [(part.kind, part.frames) for part in parts] == [
        ("text", 0),
        ("inside", 2),
        ("user", 2),
        ("user", 1),
        ("text", 0),
    ]
    assert parts[1].with_stdlib
    assert "^^^^" in parts[1].text
    assert "json/__init__.py" in parts[3].text
    assert "".join(part.text for part in parts) == TRACEBACK


def test_a_project_of_the_same_name_and_plain_text_are_shown_as_written() -> None:
    mine = '  File "/srv/underway/shop_jobs.py", line 3, in run\n    boom()\nKeyError: 1\n'
    assert [part.kind for part in traceback_parts(mine)] == ["user", "text"]
    assert [part.kind for part in traceback_parts("not a traceback <b>")] == ["text"]
    assert traceback_parts("") == []
