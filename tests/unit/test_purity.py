"""scoring/ is a pure core: it imports the standard library and itself only, and never reads a clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[2] / "scoring"
ALLOWED_TOP = set(sys.stdlib_module_names) | {"scoring", "__future__"}
# Anything that reads the clock: `today` is an input of the scoring, never looked up.
CLOCK_CALLS = {
    ("date", "today"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("time", "monotonic"),
}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def violations(source: str, filename: str = "<src>") -> list[str]:
    tree = ast.parse(source, filename)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in ALLOWED_TOP:
                    found.append(f"{filename}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] not in ALLOWED_TOP:
                found.append(f"{filename}:{node.lineno} from {node.module} import ...")
            if node.module in ("datetime", "time"):
                for alias in node.names:
                    if (node.module, alias.name) in CLOCK_CALLS:
                        found.append(f"{filename}:{node.lineno} from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            dotted = _dotted(node.func)
            parts = dotted.split(".")
            if len(parts) >= 2 and (parts[-2], parts[-1]) in CLOCK_CALLS:
                found.append(f"{filename}:{node.lineno} call {dotted}()")
    return found


def scoring_files() -> list[Path]:
    files = sorted(SCORING.glob("*.py"))
    assert files, SCORING
    return files


@pytest.mark.parametrize("path", scoring_files(), ids=lambda p: p.name)
def test_scoring_module_is_pure(path: Path):
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize("path", scoring_files(), ids=lambda p: p.name)
def test_scoring_module_says_what_it_must_not_import(path: Path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert "Must not import" in doc


@pytest.mark.parametrize(
    "source",
    [
        "import flask",
        "from sqlalchemy import select",
        "import models.unit",
        "from services import standings",
        "import hypothesis",
        "from datetime import date\nx = date.today()",
        "import datetime\nx = datetime.datetime.now()",
        "from datetime import datetime\nx = datetime.utcnow()",
        "import time\nx = time.time()",
        "from time import time",
    ],
)
def test_the_checker_catches(source: str):
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import tomllib, re, dataclasses",
        "from collections.abc import Mapping",
        "from scoring.types import Rule",
        "from .types import Rule",
        "def f(today):\n    return today",
        "from datetime import date, datetime, time, timedelta",
    ],
)
def test_the_checker_allows(source: str):
    assert violations(source) == []
