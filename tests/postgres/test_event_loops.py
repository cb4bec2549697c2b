"""An App's async methods may be awaited from any event loop (a web server's, a test's): the
backend is opened and used on the app's own loop, whichever loop asks first."""

from __future__ import annotations

import asyncio

from underway import App


def test_the_database_time_asked_first_from_another_loop_leaves_the_app_usable(
    pg_url: str,
) -> None:
    app = App(pg_url)

    @app.job
    def echo(x: int) -> int:
        return x

    try:
        first = asyncio.run(app.now())  # a loop that ends right after
        handle = echo.enqueue(1)
        assert app.get(handle.id).created_at >= first.replace(microsecond=0)
        assert asyncio.run(app.now()) >= first
    finally:
        app.close()
