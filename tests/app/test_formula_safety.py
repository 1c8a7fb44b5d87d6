"""Issue 10 item 15: no text a user typed becomes a formula in any .xlsx or .csv the app writes.

Unit names, staff names, incident notes and public texts that a spreadsheet would run ("=HYPERLINK(…)",
"+1", "-1", "@SUM(1)") are written into every download; each workbook is opened again and every cell
checked: no formula anywhere, and the typed texts are there as text, exactly as typed (the positive control).
Every writer goes through services/xlsx.put (asserted from the source: no other `ws.cell(… value=…)`,
`ws.append` or `csv.writer` over typed text).
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from models import db
from services import months
from services import standings as standings_service
from services.xlsx import FORMULA_START, csv_cell

UNIT_NAME = '=HYPERLINK("http://x.example","点我")'
UNIT_TWO = "+1单位"
STAFF_NAME = "-1"
STAFF_TWO = "@SUM(1)"
NOTE = "=1+1"
PUBLIC_TEXT = '@SUM(1)+cmd|" /C calc"!A0'

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hall(make):
    standings_service._cache.clear()
    one = make.unit("U01", name=UNIT_NAME)
    two = make.unit("U02", name=UNIT_TWO)
    first = make.staff(one, "S001", name=STAFF_NAME)
    second = make.staff(two, "S002", name=STAFF_TWO, window="2")
    make.incident(
        one, "D04a", at=datetime(2024, 2, 6, 9, 0), staff=first, window="1", public_text=PUBLIC_TEXT
    )
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    make.incident(
        one,
        "D04a",
        at=datetime(2024, 3, 6, 9, 0),
        staff=first,
        window="1",
        public_text=PUBLIC_TEXT,
        note=NOTE,
    )
    make.incident(two, "D04a", at=datetime(2024, 3, 7, 9, 0), staff=second, window="2", public_text="-1")
    return {"one": one, "two": two}


def cells(data: bytes) -> list:
    book = load_workbook(io.BytesIO(data))  # not read-only: data_type tells a formula from text
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


ADMIN_DOWNLOADS = {
    "rankings": ("/admin/standings/2024-03/rankings.xlsx", [UNIT_NAME, UNIT_TWO]),
    "month details": ("/admin/standings/2024-03/details.xlsx", [UNIT_NAME, PUBLIC_TEXT, STAFF_NAME]),
    "published month details": ("/admin/standings/2024-02/details.xlsx", [UNIT_NAME, PUBLIC_TEXT]),
    "year details": ("/admin/years/2024/details.xlsx", [UNIT_NAME, PUBLIC_TEXT]),
    "incidents": (
        "/admin/incidents/export.xlsx?month=2024-03",
        [UNIT_NAME, STAFF_NAME, STAFF_TWO, PUBLIC_TEXT],
    ),
    "tallies": ("/admin/tallies/2024.xlsx", [UNIT_NAME, STAFF_NAME, STAFF_TWO]),
    "year summary": ("/admin/years/2024/summary.xlsx", [UNIT_NAME, UNIT_TWO]),
}


def assert_typed_text_stays_text(data: bytes, expected: list[str], where: str) -> None:
    found = cells(data)
    formulas = [(c.coordinate, c.value) for c in found if c.data_type == "f"]
    assert formulas == [], (where, formulas)
    texts = [c.value for c in found if isinstance(c.value, str)]
    for text in expected:
        assert any(text in t for t in texts), (where, text)
    for cell in found:
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
            assert cell.data_type == "s", (where, cell.coordinate, cell.value)


@pytest.mark.parametrize("name", list(ADMIN_DOWNLOADS))
def test_every_admin_download_keeps_typed_text_as_text(client, login, hall, name):
    url, expected = ADMIN_DOWNLOADS[name]
    login("admin")
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert_typed_text_stays_text(response.data, expected, url)


@pytest.mark.parametrize("month", ["2024-02", "2024-03"])
def test_the_portal_download_keeps_typed_text_as_text(client, login, hall, month):
    login("unit", unit=hall["one"])
    response = client.get(f"/portal/months/{month}/detail.xlsx")
    assert response.status_code == 200
    assert_typed_text_stays_text(response.data, [UNIT_NAME, PUBLIC_TEXT], month)


@pytest.mark.parametrize("text", [UNIT_NAME, "+1", "-1", "@SUM(1)", "\t=1", "\r=1"])
def test_a_csv_cell_is_never_a_formula(text):
    assert csv_cell(text) == "'" + text
    assert csv_cell("市税务局") == "市税务局" and csv_cell(3) == "3"


def test_the_csv_templates_are_plain(client, login):
    from services.imports import KINDS

    login("admin")
    for kind in KINDS:
        response = client.get(f"/admin/import/templates/{kind}.csv")
        assert response.status_code == 200, kind
        for line in response.data.decode("utf-8-sig").splitlines()[1:]:
            for value in line.split(","):
                assert not value.startswith(FORMULA_START) or value.startswith("'"), (kind, value)


WRITERS = re.compile(r"(\.cell\([^)]*value\s*=|\bws\.append\(|\bsheet\.append\(|csv\.writer\(|DictWriter\()")


def test_every_spreadsheet_writer_goes_through_xlsx_put():
    """The audit, kept: outside services/xlsx.py no code writes a cell's value or a CSV row by itself (the
    import templates' and the users' template CSV write constants only, and say so here)."""
    allowed = {
        "services/xlsx.py",
        "services/imports/__init__.py",  # the template: columns and csv_cell'd examples
        "admin/manage_users.py",  # the users' template: constant columns and example
    }
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "tests/", "bench/", "migrations/")) or rel in allowed:
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{rel}: {m.group(0)}" for m in WRITERS.finditer(text)]
    assert offenders == []
