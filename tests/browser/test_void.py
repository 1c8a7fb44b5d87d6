"""Voiding in the browser: an empty reason is caught before the confirmation dialog; a reason voids."""

from __future__ import annotations

from datetime import datetime

from models import Incident, IncidentStatus, db
from tests.browser.conftest import DESK, login_as
from tests.conftest import PASSWORD


def test_void_asks_for_the_reason_before_confirming(live_server, open_page, make):
    unit = make.unit("U01", name="市税务局")
    incident = make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0))
    make.user("admin", username="boss")
    page = open_page(DESK)
    login_as(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server.url}/admin/incidents/{incident.id}")
    dialogs: list[str] = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click("form[data-confirm] button[type=submit]")
    page.wait_for_timeout(300)
    assert dialogs == []  # the empty reason stopped the form before the dialog
    assert page.evaluate("document.querySelector('form[data-confirm] textarea').validity.valueMissing")

    page.fill("form[data-confirm] textarea", "误录,同一事项重复登记")
    page.click("form[data-confirm] button[type=submit]")
    page.wait_for_selector("text=已作废")
    assert dialogs and "作废" in dialogs[0]
    db.session.expire_all()
    stored = db.session.get(Incident, incident.id)
    assert stored.status == IncidentStatus.VOIDED and stored.void_reason == "误录,同一事项重复登记"
