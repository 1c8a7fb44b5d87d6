"""The hall screen's version moves only with what the screen shows: an audit row that changes nothing on it
(a unit reading a notice, a document given its number, a login, an appeal waiting for its answer) leaves the
version and the "数据更新于" stamp alone; an incident, a month's state, a setting move it. Also with
KIOSK_SETTLE_SECONDS. And every audit action the code writes is classified, so a new one is a decision."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from models import AuditLog, Role, db, utcnow
from models.notice import Notice
from services import documents, kiosk, months
from services import standings as standings_service
from services.imports import KINDS
from tests.app.test_appeals import post_appeal, sign_in

ROOT = Path(__file__).resolve().parents[2]

# Audit actions that change nothing the hall screen shows (rankings of units, months, the honor roll).
OFF_SCREEN = {
    "appeal.submit",
    "appeal.decide",  # its effect on the incident writes incident.voided
    "claim.submit",
    "claim.decide",  # a bonus it grants writes incident.created
    "rectification.report",
    "rectification.extension",
    "rectification.decide",  # a date it confirms writes incident.corrected
    "notice.open",
    "notice.update",
    "notice.withdraw",
    "notice.read",
    "notice.answer",
    "document.issue",
    "documents.settings",
    "user.create",
    "user.update",
    "user.login",
    "user.password",
    "user.password_reset",
    "import.users",
    "import.staff",  # staff are not on the screen (an honor roll's person is the roll's entry)
    "import.clock",
    "staff.create",
    "staff.move",
    "staff.end",
    "staff.posting_add",
    "leave.create",
    "outage.create",
    "detect.run",  # proposals count nothing; a confirmation writes incident.confirmed
    "incident.proposed",
    "incident.dismissed",
    "evidence.add",
    "warning.create",
    "honor.select",  # a draft's choice: the screen shows published rolls only
    "kiosk.screen.register",
    "kiosk.screen.reissue",
    "kiosk.screen.revoke",
}


@pytest.fixture(autouse=True)
def fresh_caches(app):
    standings_service._cache.clear()
    kiosk.clear_caches()
    yield
    app.config["KIOSK_SETTLE_SECONDS"] = 0
    kiosk.clear_caches()


def screen(client) -> tuple[str, str]:
    """The screen's version and its "数据更新于" stamp."""
    response = client.get("/kiosk/live")
    response.close()
    stamp = re.search(r'<span class="k-stamp">(.*?)</span>', response.get_data(as_text=True), re.S)
    return response.headers["X-Kiosk-Version"], " ".join(stamp.group(1).split())


@pytest.fixture
def hall(app, make):
    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D04b", at=datetime(2024, 2, 6, 9, 30), public_text="屡劝不改玩手机")
    months.close(2024, 2)
    months.publish(2024, 2)  # opens the unit's notice_feedback notice
    db.session.commit()
    march = make.incident(unit, "D01", at=datetime(2024, 3, 19, 9, 0))
    user = make.user(Role.UNIT, username="unit-k", unit=unit)
    return {"unit": unit, "march": march, "user": user}


def test_rows_that_change_nothing_on_the_screen_leave_its_version(app, client, make, hall):
    before = screen(client)
    newest_shown = db.session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1))
    assert before[0].startswith(f"{newest_shown}.")

    unit = sign_in(app, hall["user"])  # user.login
    [notice] = db.session.scalars(select(Notice)).all()
    assert unit.post(f"/portal/notices/{notice.id}/read").status_code in (200, 302)  # notice.read
    assert post_appeal(unit, hall["march"].id).status_code == 302  # appeal.submit
    documents.issue_document("letter:discipline_report:2024-02", "letter")  # document.issue
    db.session.commit()
    written = set(db.session.scalars(select(AuditLog.action).where(AuditLog.id > newest_shown)))
    assert {"user.login", "notice.read", "appeal.submit", "document.issue"} <= written
    assert screen(client) == before  # read over the rows written since the last poll
    kiosk.clear_caches()
    assert screen(client) == before  # read back from the newest row, as a new process does

    # A change the screen shows moves it, and its stamp says when.
    make.incident(hall["unit"], "D03", at=datetime(2024, 3, 20, 9, 0))
    after = screen(client)
    newest = db.session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1))
    assert after[0] != before[0] and after[0].startswith(f"{newest}.")


def test_with_the_settle_window_too(app, client, make, hall):
    app.config["KIOSK_SETTLE_SECONDS"] = 3600
    long_ago = utcnow() - timedelta(hours=2)
    db.session.execute(update(AuditLog).values(at=long_ago))
    db.session.commit()
    kiosk.clear_caches()
    settled = screen(client)

    [notice] = db.session.scalars(select(Notice)).all()
    assert sign_in(app, hall["user"]).post(f"/portal/notices/{notice.id}/read").status_code in (200, 302)
    documents.issue_document("bulletin:2024-02", "bulletin")
    db.session.execute(update(AuditLog).values(at=long_ago))  # settled before the boundary, all of them
    db.session.commit()
    kiosk.clear_caches()
    assert screen(client) == settled

    make.incident(hall["unit"], "D03", at=datetime(2024, 3, 20, 9, 0))
    db.session.execute(update(AuditLog).values(at=long_ago))
    db.session.commit()
    kiosk.clear_caches()
    assert screen(client)[0] != settled[0]


def test_the_screens_settings_and_a_months_state_move_it(app, client, make, hall):
    first = screen(client)[0]
    kiosk.save_settings({"interval": 20})
    db.session.commit()
    second = screen(client)[0]
    assert second != first
    months.reopen(2024, 2, "更正")
    db.session.commit()
    assert screen(client)[0] != second


def written_actions() -> set[str]:
    """Every audit action the application writes, read from its source."""
    found: set[str] = set()
    literal = re.compile(r"""record\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""")
    chosen = re.compile(r'"((?:staff|unit|kiosk\.screen)\.[a-z_]+)"')
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "tests", "migrations", "bench"} or "site-packages" in parts:
            continue
        text = path.read_text(encoding="utf-8")
        found.update(literal.findall(text))
        if "record(" in text:
            found.update(chosen.findall(text))
    incidents_py = (ROOT / "services" / "incidents.py").read_text(encoding="utf-8")
    # _log(incident, "voided", ...) and _log(incident, "proposed" if ... else "created")
    for pair in re.findall(r'_log\(incident, (?:"([a-z_]+)" if [^"]+ else )?"([a-z_]+)"', incidents_py):
        found.update(f"incident.{a}" for a in pair if a)
    found.update(f"import.{kind}" for kind in (*KINDS, "users"))
    return found


def test_every_audit_action_is_on_the_screen_or_not(app):
    actions = written_actions()
    expected = {"incident.created", "incident.proposed", "incident.voided", "notice.read", "document.issue"}
    assert expected <= actions and "unit.update" in actions
    unclassified = sorted(a for a in actions if not kiosk.on_screen(a) and a not in OFF_SCREEN)
    assert unclassified == [], "decide whether these change the hall screen (services.kiosk.SCREEN_ACTIONS)"
    both = sorted(a for a in OFF_SCREEN if kiosk.on_screen(a))
    assert both == []


def test_a_log_that_is_not_the_one_looked_at_is_read_again(app, client, make):
    """A process remembers the last row it looked at and reads on from it; a log whose remembered row is no
    longer the one it saw (a restored backup, a wiped test database) is read back from its newest row."""
    from services.audit import record

    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D01", at=datetime(2024, 3, 19, 9, 0))
    first = screen(client)[0]
    # Another log with the same ids (its rows written an hour earlier), then rows that change nothing:
    # reading on from the remembered id alone would find nothing shown and keep the old log's version.
    for row in db.session.scalars(select(AuditLog)):
        row.at -= timedelta(hours=1)
    for n in range(5):
        record("notice.read", f"notice:{n}")
    db.session.commit()
    shown = select(AuditLog.id, AuditLog.at).where(AuditLog.action == "incident.created")
    shown_id, shown_at = db.session.execute(shown.order_by(AuditLog.id.desc())).first()
    version = screen(client)[0]
    assert version != first
    assert version.startswith(f"{shown_id}.{int(shown_at.timestamp() * 1000) % 10**9}-")
