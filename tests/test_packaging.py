"""The distribution: a name of its own on the package index, and what it declares as tested."""

import configparser
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text()


def expand(env: str) -> list[str]:
    """tox's brace expansion: ``py{312,313}-django{52,60}`` gives four names."""
    parts = re.split(r"\{([^}]*)\}", env)
    choices = [[part] if i % 2 == 0 else part.split(",") for i, part in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def test_the_distribution_is_not_the_unrelated_django_jobs():
    # "django-jobs" on the index is a job board from 2010; the import name stays django_jobs.
    name = re.search(r'^name = "([^"]+)"', PYPROJECT, re.MULTILINE).group(1)
    assert name == "django-jobs-queue"
    assert 'include = ["django_jobs*"]' in PYPROJECT
    readme = (ROOT / "README.md").read_text()
    assert "pip install django-jobs-queue" in readme
    assert not re.search(r"pip install \"?django-jobs(\[|\"|\s)", readme)


def test_every_django_and_python_version_tox_runs_is_declared():
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    envs = [name for env in tox["tox"]["envlist"].split() for name in expand(env)]
    pythons = {f"3.{m}" for env in envs for m in re.findall(r"py3(\d+)", env)}
    djangos = {f"{a}.{b}" for env in envs for a, b in re.findall(r"django(\d)(\d)", env)}
    assert {"3.10", "3.11", "3.12", "3.13"} <= pythons
    assert {"5.2", "6.0", "6.1"} <= djangos
    for version in pythons:
        assert f'"Programming Language :: Python :: {version}"' in PYPROJECT
    for version in djangos:
        assert f'"Framework :: Django :: {version}"' in PYPROJECT
