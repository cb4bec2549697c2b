"""Every command finds the same database: --database, else the app's (--app, UNDERWAY_APP or
pyproject.toml), else UNDERWAY_DATABASE_URL, else sqlite:///underway.db; only `migrate`
(and a writer given --create) makes a new one."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.waiting import wait_until
from underway import App, JobState

from .commands import invoke, start
from .conftest import AppModule

MISSING_DEFAULT = (
    "error: no database at underway.db (from the default; pass --app or --database, "
    "or run `underway migrate`)"
)


def enqueue_with(*options: str) -> str:
    result = invoke("enqueue", *options, "add", "--args", '{"a": 1, "b": 2}')
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_every_command_finds_the_jobs_of_the_app_it_is_given(app_module: AppModule) -> None:
    app = ("--app", app_module.path)
    assert invoke("migrate", *app).exit_code == 0
    first, second = enqueue_with(*app), enqueue_with(*app)

    listed = invoke("list", *app)
    shown = invoke("status", first, *app)
    cancelled = invoke("cancel", first, *app)
    retried = invoke("retry", first, *app)
    deleted = invoke("delete", second, *app)

    for result in (listed, shown, cancelled, retried, deleted):
        assert result.exit_code == 0, result.output
    assert first in listed.stdout
    assert second in listed.stdout
    assert first in shown.stdout
    checked = App(app_module.database, migrate=False)
    try:
        assert checked.get(first).state is JobState.PENDING
        assert [job.id for job in checked.list()] == [first]
    finally:
        checked.close()
    assert not Path("underway.db").exists()


def test_recurring_commands_find_the_apps_database_too(app_module: AppModule) -> None:
    app = ("--app", app_module.path)
    assert invoke("migrate", *app).exit_code == 0
    added = invoke("recurring", "add", *app, "sums", "@daily", "add", "--args", '{"a": 1, "b": 2}')
    assert added.exit_code == 0, added.output

    listed = invoke("recurring", "list", *app)

    assert listed.exit_code == 0, listed.output
    assert "sums" in listed.stdout
    assert not Path("underway.db").exists()


@pytest.mark.parametrize("how", ["UNDERWAY_APP", "pyproject.toml"])
def test_the_app_can_be_named_once_for_every_command(app_module: AppModule, how: str) -> None:
    env = {"UNDERWAY_APP": app_module.path} if how == "UNDERWAY_APP" else {}
    if how == "pyproject.toml":
        Path("pyproject.toml").write_text(f'[tool.underway]\napp = "{app_module.path}"\n')
    assert invoke("migrate", env=env).exit_code == 0
    enqueued = invoke("enqueue", "add", "--args", '{"a": 1, "b": 2}', env=env)
    assert enqueued.exit_code == 0, enqueued.output

    listed = invoke("list", env=env)

    assert listed.exit_code == 0, listed.output
    assert enqueued.stdout.strip() in listed.stdout
    assert app_module.file.exists()
    assert not Path("underway.db").exists()


def test_the_app_option_beats_the_default_app(app_module: AppModule, database: str) -> None:
    Path("pyproject.toml").write_text('[tool.underway]\napp = "no_such_module:app"\n')
    assert invoke("migrate", "--app", app_module.path).exit_code == 0

    enqueued = invoke("enqueue", "--app", app_module.path, "add", "--args", '{"a": 1, "b": 2}')

    assert enqueued.exit_code == 0, enqueued.output
    assert enqueued.stdout.strip() in invoke("list", "--app", app_module.path).stdout


def test_database_beats_the_app_and_the_app_beats_the_environment(
    app_module: AppModule, database: str, tmp_path: Path
) -> None:
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    app = ("--app", app_module.path)
    assert invoke("migrate", *app).exit_code == 0
    in_database = enqueue_with(*app, "--database", database)
    in_app = enqueue_with(*app)

    by_flag = invoke("list", *app, "--database", database, "--json", database_env=elsewhere)
    by_app = invoke("list", *app, "--json", database_env=elsewhere)

    assert [job["id"] for job in json.loads(by_flag.stdout)["jobs"]] == [in_database]
    assert [job["id"] for job in json.loads(by_app.stdout)["jobs"]] == [in_app]
    assert not Path(elsewhere.removeprefix("sqlite:///")).exists()


def test_without_app_or_database_the_environment_names_the_database(
    app_module: AppModule, database: str
) -> None:
    job_id = enqueue_with("--app", app_module.path, "--database", database)

    result = invoke("status", job_id, database_env=database)

    assert result.exit_code == 0, result.output
    assert job_id in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["status", "some-id"],
        ["cancel", "some-id"],
        ["retry", "some-id"],
        ["delete", "some-id"],
        ["recurring", "list"],
        ["recurring", "toggle", "nightly"],
        ["recurring", "remove", "nightly"],
    ],
)
def test_commands_that_read_never_create_the_default_database(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke(*command)

    assert result.exit_code == 1
    assert result.stderr.strip() == MISSING_DEFAULT
    assert list(tmp_path.iterdir()) == []


def test_a_missing_database_names_how_it_was_chosen(app_module: AppModule) -> None:
    by_app = invoke("list", "--app", app_module.path)
    by_flag = invoke("list", "--database", "sqlite:///missing.db")
    by_env = invoke("list", database_env="sqlite:///missing.db")

    assert f"no database at {app_module.file} (from the app {app_module.path} (--app)" in (
        by_app.stderr
    )
    assert "no database at missing.db (from --database" in by_flag.stderr
    assert "no database at missing.db (from UNDERWAY_DATABASE_URL" in by_env.stderr
    assert not app_module.file.exists()
    assert not Path("missing.db").exists()


def test_writers_refuse_a_missing_database_unless_told_to_create_it(
    app_module: AppModule,
) -> None:
    app = ("--app", app_module.path)
    refused = [
        invoke("worker", *app),
        invoke("enqueue", *app, "add", "--args", '{"a": 1, "b": 2}'),
        invoke("recurring", "add", *app, "sums", "@daily", "add", "--args", '{"a": 1, "b": 2}'),
    ]

    for result in refused:
        assert result.exit_code == 1
        assert "no database at" in result.stderr
        assert "--create" in result.stderr
    assert not app_module.file.exists()
    created = invoke("enqueue", *app, "--create", "add", "--args", '{"a": 1, "b": 2}')
    assert created.exit_code == 0, created.output
    assert app_module.file.exists()


def test_worker_creates_a_missing_database_with_create(tmp_path: Path) -> None:
    file = tmp_path / "fresh.db"
    worker = start(
        "worker",
        "--app",
        "sample_jobs:app",
        "--database",
        f"sqlite:///{file}",
        "--create",
        log=tmp_path / "worker.log",
    )
    try:
        wait_until(lambda: "started" in (tmp_path / "worker.log").read_text(), timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, (tmp_path / "worker.log").read_text()
    assert file.exists()


def test_commands_that_need_an_app_say_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke("enqueue", "add")

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: enqueue needs your app (pass --app module:attribute, set UNDERWAY_APP, "
        "or set app under [tool.underway] in pyproject.toml)"
    )
