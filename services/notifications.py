"""Notifications to stationed units (the portal inbox) and the bulletin's read receipts.

`notify_unit` is the one way to notify a unit; call it from your service in the same transaction as the
change it announces (it adds and flushes, never commits). Kinds: models.notification.NOTIFICATION_KINDS.

A notification is one row per unit; each unit user reads it on their own (`NotificationRead`), so the
header's unread count is per user and costs one COUNT. The reminders of deadlines two working days away
(`notify_due_deadlines`) are keyed, so running them twice a day, or every day, reminds once per deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, delete, exists, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from models import Incident, IncidentStatus, Month, MonthStatus, Unit, User, db
from models.notification import NOTIFICATION_KINDS, BulletinRead, Notification, NotificationRead
from scoring import RuleKind
from scoring.calendar import add_working_days, format_month
from services.calendar_admin import hall_calendar
from services.clock import to_hall, utc_now
from services.paging import page_numbers

PAGE_SIZE = 20
# A reminder goes out when a deadline is at most this many working days away (and not yet passed).
REMIND_WORKING_DAYS = 2

KIND_LABELS = {
    "incident": _l("考核记录"),
    "notice": _l("书面通报"),
    "appeal_decided": _l("申诉结果"),
    "rectification_confirmed": _l("整改确认"),
    "bulletin": _l("月度通报"),
    "deadline": _l("期限提醒"),
    "claim_decided": _l("加分申请"),
    "honor": _l("表彰"),
}


def notify_unit(
    unit_id: int, kind: str, title: str, link: str | None = None, *, key: str | None = None
) -> bool:
    """Add a notification for a unit's users. With `key`, a second call for the same unit and key adds
    nothing (idempotent reminders). Returns whether a notification was added."""
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind: {kind}")
    if key is not None:
        held = db.session.scalar(
            select(Notification.id).where(Notification.unit_id == unit_id, Notification.key == key).limit(1)
        )
        if held is not None:
            return False
    db.session.add(
        Notification(unit_id=unit_id, kind=kind, title=title[:200], link=link, key=key, created_at=utc_now())
    )
    db.session.flush()
    return True


# ------------------------------------------------------------------ what raises a notification


def item_link(incident_id: int) -> str:
    return f"/portal/items/{incident_id}"


def month_link(year: int, month: int) -> str:
    return f"/portal/months/{format_month(year, month)}"


def notify_incident(incident: Incident) -> None:
    """A confirmed item against the unit (logged confirmed, or a detection confirmed)."""
    from services.rulebooks import rulebook_for_month

    if incident.status != IncidentStatus.CONFIRMED:
        return
    day = to_hall(incident.occurred_at)
    rule = next(
        (r for r in rulebook_for_month(day.year, day.month).rules if r.code == incident.rule_code), None
    )
    what = "加分" if rule is not None and rule.kind == RuleKind.BONUS else "扣分"
    name = f"{incident.rule_code} {rule.title}" if rule is not None else incident.rule_code
    notify_unit(
        incident.unit_id,
        "incident",
        f"新增{what}记录:{name}({day.month}月{day.day}日)",
        item_link(incident.id),
    )


def withdraw_incident(incident: Incident) -> None:
    """A patrol tap undone within its minute was a slip: its notification goes, with any read of it."""
    ids = select(Notification.id).where(
        Notification.unit_id == incident.unit_id,
        Notification.kind == "incident",
        Notification.link == item_link(incident.id),
    )
    db.session.execute(delete(NotificationRead).where(NotificationRead.notification_id.in_(ids)))
    db.session.execute(delete(Notification).where(Notification.id.in_(ids)))


def notify_bulletin(month: Month) -> None:
    """A month's bulletin published: every active unit is told; receipts of an earlier publication of the
    same month (reopened since) are dropped, so the units read the bulletin as it now stands."""
    db.session.execute(delete(BulletinRead).where(BulletinRead.month_id == month.id))
    title = f"{month.year}年{month.month}月考核通报已发布"
    for unit_id in db.session.scalars(
        select(Unit.id).where(Unit.active).order_by(Unit.display_order, Unit.id)
    ):
        notify_unit(unit_id, "bulletin", title, month_link(month.year, month.month))


def remind_until(today: date) -> date:
    """The last deadline day a reminder covers today: two working days ahead (hall calendar)."""
    calendar = hall_calendar(today, today + timedelta(days=60))
    return add_working_days(today, REMIND_WORKING_DAYS, calendar)


def notify_due_deadlines(today: date) -> int:
    """Remind each unit of its deadlines at most two working days away and not yet passed (today < deadline
    <= the second working day after today): rectifications (D19a) neither rectified nor reported rectified
    (a report waiting for the admin), and notices not yet answered (nor withdrawn). Once per deadline: the
    key holds the deadline, so a changed deadline is reminded again. Returns the number of new reminders."""
    from models.appeal import RectificationReport, RequestStatus
    from models.notice import Notice

    until = remind_until(today)
    reported = exists().where(
        RectificationReport.incident_id == Incident.id,
        RectificationReport.kind == "report",
        RectificationReport.status == RequestStatus.OPEN,
    )
    rectifications = db.session.execute(
        select(Incident.id, Incident.unit_id, Incident.rule_code, Incident.deadline)
        .join(Unit, Unit.id == Incident.unit_id)
        .where(
            Unit.active,
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.deadline.is_not(None),
            Incident.rectified_on.is_(None),
            Incident.deadline > today,
            Incident.deadline <= until,
            ~reported,
        )
        .order_by(Incident.deadline, Incident.id)
    ).all()
    made = 0
    for incident_id, unit_id, rule_code, deadline in rectifications:
        made += notify_unit(
            unit_id,
            "deadline",
            f"整改期限将至:{rule_code} 须于{deadline.month}月{deadline.day}日前整改完毕",
            item_link(incident_id),
            key=f"deadline:incident:{incident_id}:{deadline.isoformat()}",
        )
    notices = db.session.execute(
        select(Notice.id, Notice.unit_id, Notice.year, Notice.month, Notice.deadline)
        .join(Unit, Unit.id == Notice.unit_id)
        .where(
            Unit.active,
            Notice.answered_at.is_(None),
            Notice.withdrawn_at.is_(None),
            Notice.deadline > today,
            Notice.deadline <= until,
        )
        .order_by(Notice.deadline, Notice.id)
    ).all()
    for notice_id, unit_id, year, month, deadline in notices:
        made += notify_unit(
            unit_id,
            "deadline",
            f"书面通报反馈期限将至:{year}年{month}月的通报须于{deadline.month}月{deadline.day}日前反馈",
            f"/portal/notices/{notice_id}",
            key=f"deadline:notice:{notice_id}:{deadline.isoformat()}",
        )
    return made


# ------------------------------------------------------------------ the inbox


def _unread_condition(user_id: int):
    return ~exists().where(
        NotificationRead.notification_id == Notification.id, NotificationRead.user_id == user_id
    )


def unread_count(user: User) -> int:
    """The header's badge: one COUNT."""
    if user.unit_id is None:
        return 0
    return db.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.unit_id == user.unit_id, _unread_condition(user.id)
        )
    )


@dataclass(frozen=True)
class InboxRow:
    id: int
    kind: str
    title: str
    link: str | None
    created_at: datetime
    read: bool

    @property
    def kind_label(self) -> str:
        label = KIND_LABELS.get(self.kind)
        return str(label) if label is not None else self.kind


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    unread: int
    page: int
    pages: int

    def pager(self, around: int = 3) -> list[int | None]:
        return page_numbers(self.page, self.pages, around)


def inbox_page(user: User, page: int = 1, per_page: int = PAGE_SIZE) -> InboxPage:
    """One page (from 1) of the user's unit's notifications, newest first, each with the user's read state."""
    page = max(1, page)
    total, unread = db.session.execute(
        select(
            func.count(Notification.id),
            func.coalesce(func.sum(case((NotificationRead.id.is_(None), 1), else_=0)), 0),
        )
        .outerjoin(
            NotificationRead,
            and_(NotificationRead.notification_id == Notification.id, NotificationRead.user_id == user.id),
        )
        .where(Notification.unit_id == user.unit_id)
    ).one()
    pages = max(1, -(-total // per_page))
    rows: list[InboxRow] = []
    if page <= pages and total:
        found = db.session.execute(
            select(Notification, NotificationRead.id)
            .outerjoin(
                NotificationRead,
                and_(
                    NotificationRead.notification_id == Notification.id, NotificationRead.user_id == user.id
                ),
            )
            .where(Notification.unit_id == user.unit_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        rows = [
            InboxRow(n.id, n.kind, n.title, n.link, n.created_at, read_id is not None) for n, read_id in found
        ]
    return InboxPage(rows=rows, total=total, unread=unread, page=page, pages=pages)


def notification_for(user: User, notification_id: int) -> Notification | None:
    """The user's unit's notification (None for another unit's: the view answers 404)."""
    row = db.session.get(Notification, notification_id)
    if row is None or user.unit_id is None or row.unit_id != user.unit_id:
        return None
    return row


def mark_read(user: User, notification: Notification) -> None:
    held = db.session.scalar(
        select(NotificationRead.id).where(
            NotificationRead.notification_id == notification.id, NotificationRead.user_id == user.id
        )
    )
    if held is None:
        db.session.add(NotificationRead(notification_id=notification.id, user_id=user.id, read_at=utc_now()))
        db.session.flush()


def mark_all_read(user: User) -> int:
    """Every unread notification of the user's unit read now, in one INSERT … SELECT; returns how many."""
    if user.unit_id is None:
        return 0
    unread = select(
        Notification.id, literal(user.id), literal(utc_now(), type_=Notification.created_at.type)
    ).where(Notification.unit_id == user.unit_id, _unread_condition(user.id))
    # RETURNING gives the number on every driver (a plain INSERT … SELECT's rowcount is -1 on some).
    written = db.session.scalars(
        insert(NotificationRead)
        .from_select(["notification_id", "user_id", "read_at"], unread)
        .returning(NotificationRead.id)
    ).all()
    db.session.flush()
    return len(written)


# ------------------------------------------------------------------ bulletin read receipts


def receipts_version() -> tuple:
    """The bulletin receipts, as a kept receipts page (page_cache) names them: a unit's first opening is
    written without an audit row (a reopened month deletes its receipts, and that is audited). Their
    number too, not only the newest id: on PostgreSQL two openings may commit out of id order."""
    return tuple(db.session.execute(select(func.count(BulletinRead.id), func.max(BulletinRead.id))).one())


def newest_notification(unit_id: int | None) -> int | None:
    """The unit's newest message: reminders are sent by the daily timer without an audit row."""
    if unit_id is None:
        return None
    return db.session.scalar(select(func.max(Notification.id)).where(Notification.unit_id == unit_id))


def record_bulletin_read(user: User, month: Month | None) -> bool:
    """A unit user opened a published month's bulletin in the portal: the unit's first opening is kept
    (later ones change nothing, and only read). The first: INSERT … SELECT … WHERE NOT EXISTS, so two users
    of the unit at the same moment keep one. Returns whether a receipt was written."""
    if month is None or month.status != MonthStatus.PUBLISHED or user.unit_id is None:
        return False
    held = exists().where(BulletinRead.month_id == month.id, BulletinRead.unit_id == user.unit_id)
    # Read first: the INSERT below takes SQLite's write lock for the rest of the request even when it
    # inserts nothing, and every later opening of the page would queue behind the others' (2.9 s at p99
    # with 20 readers).
    if db.session.scalar(select(held)):
        return False
    values = select(
        literal(month.id),
        literal(user.unit_id),
        literal(user.id),
        literal(utc_now(), type_=BulletinRead.read_at.type),
    ).where(~held)
    try:
        written = db.session.execute(
            insert(BulletinRead)
            .from_select(["month_id", "unit_id", "user_id", "read_at"], values)
            .returning(BulletinRead.id)
        ).first()
    except IntegrityError:  # another user of the unit, at the same moment: their receipt stands
        db.session.rollback()  # the view has only read so far: nothing else is lost
        return False
    return written is not None


@dataclass(frozen=True)
class Receipt:
    unit: Unit
    read_at: datetime | None
    reader: str | None
    has_users: bool


def bulletin_receipts(month: Month) -> list[Receipt]:
    """Every active unit (and an inactive one that read it) with when it first opened the bulletin."""
    reads = {
        r.unit_id: (r, label)
        for r, label in db.session.execute(
            select(BulletinRead, func.coalesce(func.nullif(User.display_name, ""), User.username))
            .outerjoin(User, User.id == BulletinRead.user_id)
            .where(BulletinRead.month_id == month.id)
        ).all()
    }
    with_users = set(
        db.session.scalars(
            select(User.unit_id).where(User.role == "unit", User.active, User.unit_id.is_not(None))
        )
    )
    units = db.session.scalars(select(Unit).order_by(Unit.display_order, Unit.id)).all()
    out = []
    for unit in units:
        read = reads.get(unit.id)
        if not unit.active and read is None:
            continue
        out.append(
            Receipt(
                unit=unit,
                read_at=read[0].read_at if read else None,
                reader=read[1] if read else None,
                has_users=unit.id in with_users,
            )
        )
    return out


def published_months() -> list[Month]:
    return list(
        db.session.scalars(
            select(Month)
            .where(Month.status == MonthStatus.PUBLISHED)
            .order_by(Month.year.desc(), Month.month.desc())
        )
    )


# ------------------------------------------------------------------ the demo hall


def load_demo() -> dict[str, int]:
    """Give the demo's inboxes their story (after everything else is loaded): each notification dated when
    its event happened (the bulletin at its publication, an item when it was logged, a notice when it was
    opened), today's deadline reminders, bulletins read by most units (the latest one not yet by every
    third unit, nor by unit2's), and unit1's user having read all but the last week's notifications."""
    from models.notice import Notice
    from services.clock import hall_today

    published = {m.id: m for m in published_months()}
    by_label = {format_month(m.year, m.month): m for m in published.values()}
    rows = list(db.session.scalars(select(Notification)))
    incident_ids = [int(n.link.rsplit("/", 1)[1]) for n in rows if n.kind == "incident" and n.link]
    created = {
        k: v
        for k, v in db.session.execute(
            select(Incident.id, Incident.created_at).where(Incident.id.in_(incident_ids))
        )
    }
    from services.notices import _title as notice_title

    notices_by_id = {n.id: n for n in db.session.scalars(select(Notice))}
    for n in rows:
        tail = (n.link or "").rsplit("/", 1)[-1]
        if n.kind == "bulletin" and tail in by_label and by_label[tail].published_at:
            n.created_at = by_label[tail].published_at
        elif n.kind == "incident" and tail.isdigit() and int(tail) in created:
            n.created_at = created[int(tail)]
        elif n.kind == "notice" and tail.isdigit() and int(tail) in notices_by_id:
            # The demo dates its notices back to their month's publication: the message's deadline too.
            notice = notices_by_id[int(tail)]
            n.created_at = notice.created_at
            n.title = notice_title(notice)
    db.session.flush()
    reminders = notify_due_deadlines(hall_today())

    unit_users = list(db.session.scalars(select(User).where(User.role == "unit").order_by(User.id)))
    first_user = {}
    for user in unit_users:
        first_user.setdefault(user.unit_id, user)
    latest = max(published.values(), key=lambda m: (m.year, m.month), default=None)
    units = list(db.session.scalars(select(Unit).where(Unit.active).order_by(Unit.display_order, Unit.id)))
    skip_latest = {u.id for i, u in enumerate(units) if i % 3 == 2}
    if len(unit_users) > 1:
        skip_latest.add(unit_users[1].unit_id)
    receipts = 0
    now = utc_now()
    for month in published.values():
        for i, unit in enumerate(units):
            if month is latest and unit.id in skip_latest:
                continue
            reader = first_user.get(unit.id)
            db.session.add(
                BulletinRead(
                    month_id=month.id,
                    unit_id=unit.id,
                    user_id=reader.id if reader else None,
                    read_at=min(month.published_at + timedelta(hours=1 + i % 5, minutes=7 * i % 60), now),
                )
            )
            receipts += 1
    read = 0
    if unit_users:
        reader = unit_users[0]
        before = utc_now() - timedelta(days=7)
        for n in db.session.scalars(
            select(Notification).where(
                Notification.unit_id == reader.unit_id, Notification.created_at < before
            )
        ):
            db.session.add(
                NotificationRead(
                    notification_id=n.id, user_id=reader.id, read_at=n.created_at + timedelta(hours=3)
                )
            )
            read += 1
    db.session.flush()
    return {"notifications": len(rows) + reminders, "bulletin_reads": receipts, "notifications_read": read}
