"""Notices that need an answer (书面通报并要求反馈) and the letters to the discipline and leadership groups.

A flag of a month is final when the month is closed (its standings frozen) and becomes the unit's to answer
when the month is published, so publishing opens the notices (`open_notices_for_month`, called by
services.months.publish): one per unit, month and flag (`notice_feedback`, `replace_staff`), listing the
incidents or results that raised it. Publishing again after a reopen keeps the notices (and their
answers), updates what they list, withdraws one whose flag is gone and
restores one whose flag came back. The unit acknowledges a notice (已读) and answers it once, with text and
attachments, by a deadline: `notice_answer_working_days` of the month's rulebook, counted with the hall
calendar from the day the notice was opened. An answer after the deadline is accepted and marked late.

States (the same in Python, `state_of`, and in SQL, `state_condition`): withdrawn; answered; overdue (the
deadline passed without an answer); read; unread.

The letters (`discipline_report` to the 纪检监察组, `leadership_report` to the 领导小组) are read from the
frozen standings of a closed month: one letter per month and flag, every flagged unit by name with its
incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from math import ceil

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload

from models import (
    Incident,
    Month,
    MonthStatus,
    MonthUnitResult,
    Posting,
    Staff,
    Unit,
    User,
    Warning,
    db,
)
from models.notice import LETTER_FLAGS, NOTICE_FLAGS, NOTICE_STATES, Notice, NoticeAttachment
from scoring import Grade, Rulebook, format_month
from scoring.calendar import add_working_days, is_working_day
from services import DomainError
from services import evidence as evidence_files
from services.audit import acting_user_id, record
from services.calendar_admin import hall_calendar
from services.clock import hall_today, to_hall, utc_now
from services.evidence import Upload
from services.incident_list import ListPage
from services.notifications import notify_unit
from services.rulebooks import as_rulebook, by_key, rulebook_for_month
from services.standings import is_frozen, month_row, standings, standings_for

PAGE_SIZE = 30
ANSWER_MAX_CHARS = 5000
MAX_ATTACHMENTS = 10
# Chinese names of the flags a notice or letter carries (the same words as ui.FLAG_LABELS and rulebook.md).
FLAG_TITLES = {
    "notice_feedback": "书面通报并要求反馈",
    "replace_staff": "要求更换相关人员",
    "discipline_report": "书面报市纪委监委驻市商务局纪检监察组",
    "leadership_report": "书面报市营商环境建设领导小组",
}
REPLACE_STAFF = "replace_staff"
LETTER_ADDRESSEES = {
    "discipline_report": "市纪委监委驻市商务局纪检监察组",
    "leadership_report": "市营商环境建设领导小组",
}


# ---------------------------------------------------------------- deadlines and states


def answer_deadline(opened_on: date, rulebook: Rulebook, calendar: dict[date, str] | None = None) -> date:
    """The last day to answer in time: the n-th working day after the opening day (n from the rulebook)."""
    days = rulebook.settings.notice_answer_working_days
    return add_working_days(opened_on, days, hall_calendar() if calendar is None else calendar)


def state_of(notice: Notice, today: date | None = None) -> str:
    today = today or hall_today()
    if notice.withdrawn_at is not None:
        return "withdrawn"
    if notice.answered_at is not None:
        return "answered"
    if today > notice.deadline:
        return "overdue"
    return "read" if notice.read_at is not None else "unread"


def state_condition(state: str, today: date):
    """The SQL condition of a state (as `state_of` decides it)."""
    active = Notice.withdrawn_at.is_(None)
    waiting = and_(active, Notice.answered_at.is_(None))
    return {
        "withdrawn": Notice.withdrawn_at.is_not(None),
        "answered": and_(active, Notice.answered_at.is_not(None)),
        "overdue": and_(waiting, Notice.deadline < today),
        "read": and_(waiting, Notice.deadline >= today, Notice.read_at.is_not(None)),
        "unread": and_(waiting, Notice.deadline >= today, Notice.read_at.is_(None)),
    }[state]


def state_counts(today: date | None = None) -> dict[str, int]:
    """How many notices are in each of the four states (withdrawn ones are left out): one query."""
    today = today or hall_today()
    columns = [
        func.coalesce(func.sum(case((state_condition(s, today), 1), else_=0)), 0) for s in NOTICE_STATES
    ]
    row = db.session.execute(select(*columns).select_from(Notice)).one()
    return dict(zip(NOTICE_STATES, (int(v) for v in row), strict=True))


# ---------------------------------------------------------------- opening at publish


def _month_rulebook(row: Month) -> Rulebook:
    version = by_key(row.rulebook_key) if row.rulebook_key else None
    return as_rulebook(version) if version else rulebook_for_month(row.year, row.month)


def _earlier_unqualified_months(year: int, month: int, codes: set[str]) -> dict[str, list[str]]:
    """The unqualified months ("YYYY-MM", in order) of these units earlier in the same calendar year: with
    the month itself, what led to `replace_staff` (rulebook.md: every earlier month of the year counts,
    closed or not), so its notice lists them all, not only the month that raised it."""
    if not codes or month <= 1:
        return {}
    out: dict[str, list[str]] = {}
    for (y, m), earlier in standings_for([(year, m) for m in range(1, month)]).items():
        for unit in earlier.units:
            if unit.code in codes and unit.grade == Grade.UNQUALIFIED:
                out.setdefault(unit.code, []).append(format_month(y, m))
    return out


def _title(notice: Notice) -> str:
    return _(
        "%(year)d年%(month)d月书面通报(%(flag)s),请于 %(deadline)s 前反馈",
        year=notice.year,
        month=notice.month,
        flag=FLAG_TITLES.get(notice.flag, notice.flag),
        deadline=notice.deadline.isoformat(),
    )


def _link(notice: Notice) -> str:
    # A plain path: publishing also runs from the command line, where no request builds URLs.
    return f"/portal/notices/{notice.id}"


def open_notices_for_month(year: int, month: int) -> list[Notice]:
    """Open the notices of a published month's `notice_feedback` and `replace_staff` flags (idempotent:
    one per unit, month and flag), notify each unit of a new one, and withdraw those whose flag is gone.
    Returns the notices opened now. Flushes, never commits."""
    row = month_row(year, month)
    if not is_frozen(row):
        return []
    result = standings(year, month, row=row)
    rulebook = _month_rulebook(row)
    wanted: dict[tuple[str, str], list[str]] = {}
    for unit in result.units:
        for flag in unit.flags:
            if flag.code in NOTICE_FLAGS:
                wanted[(unit.code, flag.code)] = list(flag.reasons)
    repeated = {code for code, flag in wanted if flag == REPLACE_STAFF}
    for code, labels in _earlier_unqualified_months(year, month, repeated).items():
        reasons = wanted[(code, REPLACE_STAFF)]
        wanted[(code, REPLACE_STAFF)] = [f"month:{label}" for label in labels] + reasons
    units = {
        u.code: u
        for u in db.session.scalars(select(Unit).where(Unit.code.in_({code for code, _f in wanted})))
    }
    held = {
        (n.unit.code, n.flag): n
        for n in db.session.scalars(
            select(Notice)
            .options(selectinload(Notice.unit))
            .where(Notice.year == year, Notice.month == month)
        )
    }
    today = hall_today()
    calendar = hall_calendar()
    opened: list[Notice] = []
    for (code, flag), reasons in wanted.items():
        unit = units.get(code)
        if unit is None:
            continue
        notice = held.get((code, flag))
        if notice is None:
            notice = Notice(
                unit=unit,
                year=year,
                month=month,
                flag=flag,
                reasons=reasons,
                opened_on=today,
                deadline=answer_deadline(today, rulebook, calendar),
                created_at=utc_now(),
                answered_late=False,
            )
            db.session.add(notice)
            db.session.flush()
            record(
                "notice.open",
                f"notice:{notice.id}",
                after={
                    "unit": unit.code,
                    "month": notice.label,
                    "flag": flag,
                    "reasons": reasons,
                    "answer_deadline": notice.deadline.isoformat(),
                },
            )
            notify_unit(unit.id, "notice", _title(notice), _link(notice))
            opened.append(notice)
            continue
        changes_before, changes_after = {}, {}
        if notice.withdrawn_at is not None:
            changes_before["withdrawn"], changes_after["withdrawn"] = True, False
            notice.withdrawn_at = None
        if list(notice.reasons or []) != reasons:
            changes_before["reasons"], changes_after["reasons"] = list(notice.reasons or []), reasons
            notice.reasons = reasons
        if changes_after:
            record("notice.update", f"notice:{notice.id}", before=changes_before, after=changes_after)
    for key, notice in held.items():
        if key not in wanted and notice.withdrawn_at is None:
            notice.withdrawn_at = utc_now()
            record(
                "notice.withdraw",
                f"notice:{notice.id}",
                before={"withdrawn": False},
                after={"withdrawn": True},
            )
    db.session.flush()
    return opened


# ---------------------------------------------------------------- what a notice or letter lists


@dataclass
class ReasonLine:
    """One incident (or result) that raised a flag, as a notice or letter prints it."""

    text: str  # "2024年2月考核不合格" for a month result; the rule's title for an incident
    incident: Incident | None = None
    rule_code: str = ""
    rule_title: str = ""
    staff_name: str = ""
    window: str = ""
    note: str = ""  # for a flag raised by a derived rule (D19b): what it was derived from

    @property
    def where(self) -> str:
        """Window and staff member, as a document's column prints them."""
        parts = [_("窗口 %(window)s", window=self.window) if self.window else "", self.staff_name]
        return " ".join(p for p in parts if p)


def reason_lines(
    reasons: list[str], rulebook: Rulebook, rule_of: dict[int, str] | None = None
) -> list[ReasonLine]:
    """The reasons of a flag ("incident:<id>", "month:YYYY-MM") as lines, incidents in time order.

    `rule_of` names the rule an incident raised the flag under when it is not the incident's own: a D19b
    (derived from a missed D19a deadline) raises its flag with the D19a's incident as the reason."""
    rule_of = rule_of or {}
    ids = [
        int(r.split(":", 1)[1]) for r in reasons if r.startswith("incident:") and r.split(":", 1)[1].isdigit()
    ]
    incidents = (
        {
            i.id: i
            for i in db.session.scalars(
                select(Incident).options(selectinload(Incident.staff)).where(Incident.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    lines: list[ReasonLine] = []
    for reason in reasons:
        kind, _sep, value = reason.partition(":")
        if kind == "month":
            try:
                y, m = (int(p) for p in value.split("-"))
            except ValueError:
                continue
            lines.append(ReasonLine(_("%(year)d年%(month)d月考核结果为不合格", year=y, month=m)))
        elif kind == "incident" and value.isdigit() and int(value) in incidents:
            incident = incidents[int(value)]
            code = rule_of.get(incident.id, incident.rule_code)
            try:
                title = rulebook.rule(code).title
            except KeyError:
                title = ""
            note = ""
            if code != incident.rule_code and incident.deadline is not None:
                note = _(
                    "%(day)s 登记限期整改,整改期限 %(deadline)s",
                    day=to_hall(incident.occurred_at).date().isoformat(),
                    deadline=incident.deadline.isoformat(),
                )
            lines.append(
                ReasonLine(
                    incident.public_text or title,
                    incident=incident,
                    rule_code=code,
                    rule_title=title,
                    staff_name=incident.staff.name if incident.staff else "",
                    window=incident.window or "",
                    note=note,
                )
            )

    def order(line: ReasonLine):
        return (1, line.incident.occurred_at, line.incident.id) if line.incident else (0, datetime.min, 0)

    return sorted(lines, key=order)


def notice_rulebook(notice: Notice) -> Rulebook:
    row = month_row(notice.year, notice.month)
    return _month_rulebook(row) if row is not None else rulebook_for_month(notice.year, notice.month)


def notice_lines(notice: Notice) -> list[ReasonLine]:
    return reason_lines(list(notice.reasons or []), notice_rulebook(notice))


@dataclass
class LetterUnit:
    name: str
    lines: list[ReasonLine] = field(default_factory=list)


@dataclass
class Letter:
    year: int
    month: int
    flag: str
    units: list[LetterUnit]

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def key(self) -> str:
        """What services.documents files the letter's number under (one number however often printed)."""
        return f"letter:{self.flag}:{self.label}"

    @property
    def addressee(self) -> str:
        return LETTER_ADDRESSEES[self.flag]

    @property
    def incident_count(self) -> int:
        return sum(1 for u in self.units for line in u.lines if line.incident is not None)


def letters_for_month(year: int, month: int) -> list[Letter]:
    """The month's letters (discipline group first), from its frozen standings; none for an open month."""
    row = month_row(year, month)
    if not is_frozen(row):
        return []
    result = standings(year, month, row=row)
    rulebook = _month_rulebook(row)
    names = {u.code: u.name for u in db.session.scalars(select(Unit))}
    letters = []
    for flag in LETTER_FLAGS:
        units = []
        for u in result.units:
            for f in u.flags:
                if f.code != flag:
                    continue
                rule_of = {
                    item.incident_id: item.rule_code
                    for item in u.items
                    if item.incident_id is not None and flag in _rule_flags(rulebook, item.rule_code)
                }
                units.append(
                    LetterUnit(names.get(u.code, u.name), reason_lines(list(f.reasons), rulebook, rule_of))
                )
        if units:
            letters.append(Letter(year, month, flag, units))
    return letters


def _rule_flags(rulebook: Rulebook, code: str) -> tuple[str, ...]:
    try:
        return rulebook.rule(code).flags
    except KeyError:
        return ()


def letter(year: int, month: int, flag: str) -> Letter | None:
    return next((item for item in letters_for_month(year, month) if item.flag == flag), None)


def letter_months() -> list[tuple[int, int, list[str]]]:
    """(year, month, flags) of the closed months with at least one letter, newest first."""
    # The units' flag codes from `month_unit_result` (a snapshot holds every item of every unit: reading
    # five years of them took seconds); a frozen month without such rows from its snapshot.
    frozen = db.session.execute(
        select(Month.id, Month.year, Month.month)
        .where(Month.status != MonthStatus.OPEN)
        .order_by(Month.year.desc(), Month.month.desc())
    ).all()
    ids = [m.id for m in frozen]
    # The months that have such rows (by index), and only the distinct flag texts of flagged units: five
    # years of a 200-unit hall are 12,000 rows, nearly all without a flag.
    with_rows = set(
        db.session.scalars(
            select(MonthUnitResult.month_id).distinct().where(MonthUnitResult.month_id.in_(ids))
        )
    )
    codes: dict[int, set[str]] = {}
    for month_id, flags in db.session.execute(
        select(MonthUnitResult.month_id, MonthUnitResult.flags)
        .distinct()
        .where(MonthUnitResult.month_id.in_(ids), MonthUnitResult.flags != "")
    ):
        codes.setdefault(month_id, set()).update(flags.split())
    out = []
    for month_id, year, month in frozen:
        if month_id in with_rows:
            flags = codes.get(month_id, set())
        else:
            snapshot = db.session.get(Month, month_id).snapshot or {}
            flags = {f["code"] for u in snapshot.get("units", []) for f in u.get("flags", [])}
        wanted = [f for f in LETTER_FLAGS if f in flags]
        if wanted:
            out.append((year, month, wanted))
    return out


# ---------------------------------------------------------------- the admins' list


@dataclass(frozen=True)
class NoticeFilter:
    year: int | None = None
    month: int | None = None
    unit_id: int | None = None
    state: str | None = None


def list_page(filters: NoticeFilter, page: int = 1, per_page: int = PAGE_SIZE) -> ListPage:
    """One page of notices matching the filters (newest month first, then the units' listing order),
    counted and paginated in SQL."""
    today = hall_today()
    conditions = []
    if filters.year and filters.month:
        conditions += [Notice.year == filters.year, Notice.month == filters.month]
    if filters.unit_id:
        conditions.append(Notice.unit_id == filters.unit_id)
    if filters.state:
        conditions.append(state_condition(filters.state, today))
    total = db.session.scalar(select(func.count(Notice.id)).where(*conditions)) or 0
    pages = max(1, ceil(total / per_page))
    page = max(1, page)
    rows = list(
        db.session.scalars(
            select(Notice)
            .join(Unit, Unit.id == Notice.unit_id)
            .options(selectinload(Notice.unit), selectinload(Notice.attachments))
            .where(*conditions)
            .order_by(
                Notice.year.desc(), Notice.month.desc(), Unit.display_order, Unit.code, Notice.flag, Notice.id
            )
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return ListPage(rows=rows, total=total, page=page, pages=pages)


def notice_months() -> list[tuple[int, int]]:
    return [
        (y, m)
        for y, m in db.session.execute(
            select(Notice.year, Notice.month).distinct().order_by(Notice.year.desc(), Notice.month.desc())
        )
    ]


# ---------------------------------------------------------------- the unit's side


def for_unit(unit_id: int) -> list[Notice]:
    """Every notice of a unit, newest month first."""
    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.unit_id == unit_id)
            .order_by(Notice.year.desc(), Notice.month.desc(), Notice.flag, Notice.id)
        )
    )


def notice_for_unit(unit_id: int, notice_id: int) -> Notice | None:
    """The unit's own notice, or None (another unit's notice is as good as missing)."""
    return db.session.scalar(select(Notice).where(Notice.id == notice_id, Notice.unit_id == unit_id))


def mark_read(notice: Notice) -> bool:
    """The unit acknowledges the notice (已读); True if this changed it (reading twice changes nothing)."""
    if notice.withdrawn_at is not None:
        raise DomainError(_("该通报已撤销,无需确认"))
    if notice.read_at is not None:
        return False
    notice.read_at = utc_now()
    notice.read_by_id = acting_user_id()
    record("notice.read", f"notice:{notice.id}", before={"read": False}, after={"read": True})
    db.session.flush()
    return True


def read_attachments(files) -> list[Upload]:
    """Check every file of an answer (images as evidence takes them, or PDF); the first bad one refuses the
    answer before anything is written."""
    return evidence_files.read_uploads(files, pdf=True, max_files=MAX_ATTACHMENTS)


def answer(notice: Notice, text: str, uploads: list[Upload]) -> list[NoticeAttachment]:
    """The unit's answer (once): text required, attachments stored like evidence. Late if after the
    deadline (accepted, marked). Returns the attachment rows written (for `evidence.discard_files` on
    failure)."""
    text = (text or "").strip()
    if notice.withdrawn_at is not None:
        raise DomainError(_("该通报已撤销,无需反馈"))
    if notice.answered_at is not None:
        raise DomainError(_("该通报已经反馈,不能重复提交"))
    if not text:
        raise DomainError(_("请填写反馈内容"))
    if len(text) > ANSWER_MAX_CHARS:
        raise DomainError(_("反馈内容不能超过 %(n)d 字", n=ANSWER_MAX_CHARS))
    now = utc_now()
    user_id = acting_user_id()
    if notice.read_at is None:
        notice.read_at, notice.read_by_id = now, user_id
    notice.answer_text = text
    notice.answered_at = now
    notice.answered_by_id = user_id
    notice.answered_late = to_hall(now).date() > notice.deadline
    rows = _store(notice, uploads, now, user_id)
    record(
        "notice.answer",
        f"notice:{notice.id}",
        before={"answered": False},
        after={
            "answered": True,
            "answer_text": text,
            "late": notice.answered_late,
            "files": evidence_files.file_summary(rows),
        },
    )
    db.session.flush()
    return rows


def _store(
    notice: Notice, uploads: list[Upload], now: datetime, user_id: int | None
) -> list[NoticeAttachment]:
    return evidence_files.write_files(
        uploads,
        lambda upload, stored_name: NoticeAttachment(
            notice=notice, **evidence_files.file_columns(upload, stored_name, now, user_id)
        ),
    )


# ---------------------------------------------------------------- warnings in the portal


def unit_warnings(unit_id: int, page: int = 1, per_page: int = PAGE_SIZE) -> ListPage:
    """The warnings (提醒) given to a unit, its windows and staff, newest first, a page at a time."""
    condition = Warning.unit_id == unit_id
    total = db.session.scalar(select(func.count(Warning.id)).where(condition)) or 0
    pages = max(1, ceil(total / per_page))
    page = max(1, page)
    rows = list(
        db.session.scalars(
            select(Warning)
            .options(selectinload(Warning.staff).selectinload(Staff.postings))
            .where(condition)
            .order_by(Warning.given_at.desc(), Warning.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return ListPage(rows=rows, total=total, page=page, pages=pages)


# ---------------------------------------------------------------- the demo hall


def load_demo_incidents(past: list[tuple[int, int]]) -> int:
    """Before the demo's months are closed: the findings that make the demo units with a login (unit1,
    unit2) receive notices: a serious phone case (D04b, after two reminders) in two past months for the
    first, more than two absences (D02c ×3) in two past months for the second. Returns the incidents
    added."""
    from services import incidents
    from services.clock import from_hall

    users = list(db.session.scalars(select(User).where(User.role == "unit").order_by(User.id).limit(2)))
    if len(users) < 2 or len(past) < 4:
        return 0
    calendar = hall_calendar()
    plans = [
        (users[0].unit_id, "D04b", 1, past[-4], "窗口工作人员经多次提醒仍在工作时间玩手机"),
        (users[0].unit_id, "D04b", 1, past[-2], "窗口工作人员在岗期间观看视频,屡劝不改"),
        (users[1].unit_id, "D02c", 3, past[-3], "窗口工作人员本月三次旷工"),
        (users[1].unit_id, "D02c", 3, past[-1], "窗口工作人员本月三次旷工"),
    ]
    added = 0
    for unit_id, code, count, (year, month), text in plans:
        unit = db.session.get(Unit, unit_id)
        day = date(year, month, 10)
        while not is_working_day(day, calendar):
            day += timedelta(days=1)
        staff = db.session.scalar(
            select(Staff)
            .join(Posting, Posting.staff_pk == Staff.id)
            .where(
                Posting.unit_id == unit_id,
                Posting.category == "W",
                Posting.start_date <= day,
                (Posting.end_date.is_(None)) | (Posting.end_date >= day),
            )
            .order_by(Staff.id)
            .limit(1)
        )
        posting = staff.posting_on(day) if staff else None
        occurred = from_hall(datetime.combine(day, datetime.min.time()).replace(hour=10, minute=15))
        incident = incidents.create(
            unit,
            code,
            occurred,
            count=count,
            staff=staff,
            window=posting.window if posting else None,
            public_text=text,
        )
        incident.created_at = occurred + timedelta(minutes=20)  # logged on the spot (backdate keeps it)
        added += 1
        if code == "D04b":
            # "屡劝不改": the reminders given first, which the unit reads on its warnings page.
            for days_before, words in (
                (6, "工作时间使用手机,已当场提醒"),
                (3, "再次提醒:工作时间不得使用手机"),
            ):
                warning = Warning(
                    unit=unit,
                    staff=staff,
                    window=posting.window if posting else None,
                    rule_code=code,
                    given_at=occurred - timedelta(days=days_before),
                    text=words,
                    given_by_id=acting_user_id(),
                )
                db.session.add(warning)
                db.session.flush()
                record("warning.create", f"warning:{warning.id}", after={"unit": unit.code, "text": words})
    db.session.flush()
    return added


def load_demo() -> dict[str, int]:
    """Give the demo's notices their story: opened on the day their month was published, then answered in
    time, answered late, read only, or left unread (a past deadline makes the last two overdue). The
    answers are the unit's own user's, when the unit has one."""
    answerers: dict[int, User] = {}
    for user in db.session.scalars(select(User).where(User.role == "unit").order_by(User.id)):
        if user.unit_id is not None:
            answerers.setdefault(user.unit_id, user)
    calendar = hall_calendar()
    notices = list(
        db.session.scalars(
            select(Notice).order_by(Notice.year, Notice.month, Notice.unit_id, Notice.flag, Notice.id)
        )
    )
    published = {
        (r.year, r.month): r for r in db.session.scalars(select(Month).where(Month.published_at.is_not(None)))
    }
    now = utc_now()
    tally = {"answered": 0, "late": 0, "read": 0, "unread": 0}
    answers = [
        "已组织本单位窗口人员专题学习大厅管理制度,相关人员已作书面检查,今后加强日常管理。",
        "已对相关人员进行批评教育并调整岗位,整改情况附后。",
    ]
    last_of_unit = {n.unit_id: n.id for n in notices}  # ordered by month: the unit's latest notice
    units_seen: list[int] = []
    earlier = 0
    for index, notice in enumerate(notices):
        if notice.unit_id not in units_seen:
            units_seen.append(notice.unit_id)
        row = published.get((notice.year, notice.month))
        if row is not None:
            notice.created_at = row.published_at
            notice.opened_on = to_hall(row.published_at).date()
            notice.deadline = answer_deadline(notice.opened_on, notice_rulebook(notice), calendar)
        user = answerers.get(notice.unit_id)
        # Each unit's latest notice still waits (read or not; overdue once its deadline passed); the
        # earlier ones were answered, in time or late.
        if last_of_unit[notice.unit_id] == notice.id:
            story = "read" if units_seen.index(notice.unit_id) % 2 else "unread"
        else:
            story = "late" if earlier % 2 else "answered"
            earlier += 1
        opened = datetime.combine(notice.opened_on, datetime.min.time()).replace(tzinfo=to_hall(now).tzinfo)
        if story in ("answered", "late"):
            day = notice.deadline if story == "answered" else add_working_days(notice.deadline, 2, calendar)
            at = datetime.combine(day, datetime.min.time()).replace(hour=15, tzinfo=opened.tzinfo)
            if at > now:
                story = "read"
            else:
                notice.read_at = min(opened.replace(hour=10), at)
                notice.read_by_id = user.id if user else None
                notice.answer_text = answers[index % len(answers)]
                notice.answered_at = at
                notice.answered_by_id = user.id if user else None
                notice.answered_late = story == "late"
        if story == "read":
            notice.read_at = min(opened.replace(hour=10), now)
            notice.read_by_id = user.id if user else None
        tally[story] += 1
    db.session.flush()
    return tally
