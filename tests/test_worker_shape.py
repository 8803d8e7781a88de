"""The worker stays a package of small parts: modules under 300 lines, functions under 40."""

import ast
from pathlib import Path

import pytest

import django_jobs.worker

WORKER = Path(django_jobs.worker.__file__).parent
MODULES = sorted(WORKER.glob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_each_worker_module_is_small(module):
    source = module.read_text()
    assert len(source.splitlines()) < 300
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 40
    ]
    assert not long


def test_the_worker_package_has_its_parts():
    assert {"loop.py", "slots.py", "upkeep.py", "claiming.py", "executing.py", "pool.py"} <= {
        p.name for p in MODULES
    }
