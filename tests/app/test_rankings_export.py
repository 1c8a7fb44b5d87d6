"""The month's rankings .xlsx (product.md §12), downloaded from the admin standings page."""

from __future__ import annotations

from urllib.parse import unquote

from services import exports
from services.standings import standings
from tests.app.test_exports import month_data, rows_of, sheet  # noqa: F401  (month_data is a fixture)
from tests.html import parse


def test_the_standings_page_links_the_rankings_download(client, login, month_data):  # noqa: F811
    login("leader")
    page = parse(client.get("/admin/standings", query_string={"month": "2024-03"}).text)
    link = page.one("a#rankings-export")
    assert link.get("href") == "/admin/standings/2024-03/rankings.xlsx" and link.text == "下载排名表"


def test_leaders_download_the_months_rankings(client, login, month_data):  # noqa: F811
    login("leader")
    response = client.get("/admin/standings/2024-03/rankings.xlsx")
    assert response.status_code == 200 and response.mimetype == exports.XLSX_MIMETYPE
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="rankings-2024-03.xlsx"; ')
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "2024年3月考核排名.xlsx"
    rows = rows_of(sheet(response.data))
    assert rows[0][0] == "2024年3月 派驻单位考核排名"
    assert [tuple(r[:3]) for r in rows[3:]] == [(u.rank, u.code, u.name) for u in standings(2024, 3).units]


def test_a_month_without_rankings_is_404_and_a_unit_user_is_refused(client, login, make, month_data):  # noqa: F811
    login("admin")
    for month in ("2099-01", "2024-13", "1999-01", "junk"):
        assert client.get(f"/admin/standings/{month}/rankings.xlsx").status_code == 404, month
    client.post("/logout")
    login("unit", unit=month_data[0])
    response = client.get("/admin/standings/2024-03/rankings.xlsx")
    assert response.status_code == 403 and b"PK" not in response.data[:2]
