"""The pytest plugin finds the user's app as the CLI does: the ini option, else UNDERWAY_APP,
else [tool.underway] app in the project's pyproject.toml; and says how when it finds none."""

from __future__ import annotations

import pytest

from tests.user_environment import USER_PYTEST_ADDOPTS

pytest_plugins = ["pytester"]

JOBS = """
from underway import App

app = App("sqlite:///never-used.db")

@app.job
def double(n: int) -> int:
    return n * 2
"""
TEST = """
from underway.testing import drain

def test_runs_a_job(underway_app):
    from {module} import double
    double.enqueue(4)
    [job] = drain(underway_app)
    assert job.result == 8
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("UNDERWAY_APP", raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", USER_PYTEST_ADDOPTS)
    pytester.makepyfile(myjobs=JOBS, otherjobs=JOBS)
    pytester.syspathinsert()
    return pytester


def test_the_ini_option_names_the_app_before_pyproject(project: pytest.Pytester) -> None:
    project.makepyprojecttoml(
        '[tool.underway]\napp = "otherjobs:app"\n'
        '[tool.pytest.ini_options]\nunderway_app = "myjobs:app"\n'
    )
    project.makepyfile(test_it=TEST.format(module="myjobs"))
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_pyproject_names_the_app(project: pytest.Pytester) -> None:
    project.makepyprojecttoml('[tool.underway]\napp = "myjobs:app"\n')
    project.makepyfile(test_it=TEST.format(module="myjobs"))
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_without_an_app_the_fixture_says_how_to_name_one(project: pytest.Pytester) -> None:
    project.makepyfile(test_it=TEST.format(module="myjobs"))
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the underway_app fixture needs your app*"])


def test_a_wrong_app_path_is_a_clear_error(project: pytest.Pytester) -> None:
    project.makepyprojecttoml('[tool.pytest.ini_options]\nunderway_app = "myjobs:double"\n')
    project.makepyfile(test_it=TEST.format(module="myjobs"))
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*myjobs:double is a SyncJob, not an underway App*"])
