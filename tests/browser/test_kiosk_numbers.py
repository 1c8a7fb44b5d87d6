"""The hall screen never cuts a number: a score of 120 reads whole in every column, in both orientations."""

from __future__ import annotations

from datetime import datetime

import pytest

from services import kiosk
from services import standings as standings_service

LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}

CUT_CELLS = """() => [...document.querySelectorAll('.k-slides')]
  .filter(s => getComputedStyle(s).display !== 'none')
  .flatMap(s => [...s.querySelectorAll('[data-slide][data-active] .k-num')])
  .filter(c => c.scrollWidth > c.clientWidth + 1)
  .map(c => c.textContent.trim())"""


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_three_digit_scores_and_bonuses_are_never_cut(make, open_page, live_server, viewport):
    standings_service._cache.clear()
    kiosk.clear_caches()
    best = make.unit(code="A01", name="市卫生健康委员会", windows="1")
    make.unit(code="A02", name="市公安局交通警察支队车管所", windows="2")
    for day in (4, 5):
        make.incident(best, "B02c", at=datetime(2024, 3, day, 9, 0))  # +10 twice: the cap, 120
    make.incident(best, "D07b", at=datetime(2024, 3, 6, 9, 0))
    page = open_page(viewport)
    page.goto(f"{live_server.url}/kiosk/?screen=数字")
    page.locator("[data-slide][data-active]:visible").wait_for()
    scores = page.locator("[data-slide][data-active]:visible td.k-score").all_inner_texts()
    assert "115" in [s.strip() for s in scores]
    assert page.evaluate(CUT_CELLS) == []
    kiosk.clear_caches()
