"""The demo hall: about 30 stationed units, about 150 staff, a year of incidents, clock-in data, the
calendar, closed and published months and a login per role, all relative to the hall's today.

Deterministic (`random.Random(seed)`): the same day and seed give the same hall. Everything is written
through the services (roster, incidents, detections, months), so history and audit rows are as real
use leaves them; afterwards the timestamps are moved to when each thing would have happened.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextvars import Token
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, cast, func, literal, select, update

from models import (
    AuditLog,
    CalendarDay,
    ClockOutage,
    ClockPunch,
    Incident,
    IncidentHistory,
    IncidentStatus,
    Leave,
    Month,
    Role,
    Setting,
    Staff,
    Unit,
    User,
    Warning,
    db,
)
from scoring import is_working_day
from scoring.calendar import month_bounds, next_month, prev_month
from services import DomainError, detections, incidents, months, roster
from services.appeals import load_demo as load_requests
from services.audit import acting_user_id, record, reset_acting_user, set_acting_user
from services.bounds import check_month_open, first_rulebook_day
from services.clock import from_hall, hall_now, hall_today
from services.documents import load_demo as load_documents
from services.honors import load_demo as load_honors
from services.notices import load_demo as load_notices
from services.notices import load_demo_incidents as load_notice_incidents
from services.notifications import load_demo as load_inbox
from services.rulebooks import rulebook_for_month

SETTING_KEY = "demo"
DEFAULT_SEED = 20230419

# (username, password, role); unit users are unit1, unit2, … for the units in display order.
STAFF_LOGINS = [
    ("admin", "admin123", Role.ADMIN),
    ("inspector", "inspector123", Role.INSPECTOR),
    ("leader", "leader123", Role.LEADER),
]
UNIT_PASSWORD = "unit123"

# (code, name, windows, W staff beyond one per window, C staff in the comprehensive window's back office)
UNITS: list[tuple[str, str, int, int, int]] = [
    ("SW01", "市税务局", 6, 6, 0),
    ("SB01", "市社会保险事业服务中心", 5, 5, 1),
    ("YB01", "市医疗保障事务服务中心", 3, 3, 1),
    ("RS01", "市人力资源和社会保障局", 2, 2, 1),
    ("GJJ01", "市住房公积金管理中心", 3, 3, 0),
    ("BDC01", "市不动产登记中心", 6, 5, 1),
    ("ZJ01", "市住房和城乡建设局", 2, 0, 2),
    ("ZR01", "市自然资源局", 2, 0, 2),
    ("SJ01", "市市场监督管理局", 5, 4, 1),
    ("GA01", "市公安局出入境管理支队", 3, 3, 0),
    ("GA02", "市公安局交通警察支队车管所", 4, 4, 0),
    ("GA03", "市公安局人口管理支队户政窗口", 2, 1, 0),
    ("MZ01", "市民政局婚姻登记处", 2, 2, 0),
    ("WJ01", "市卫生健康委员会", 1, 0, 2),
    ("JY01", "市教育局", 1, 0, 1),
    ("JT01", "市交通运输局", 2, 0, 2),
    ("SL01", "市水利局", 1, 0, 1),
    ("ST01", "市生态环境局", 1, 0, 2),
    ("WL01", "市文化旅游和广播电视局", 1, 0, 1),
    ("NY01", "市农业农村局", 1, 0, 1),
    ("SW02", "市商务局", 1, 0, 1),
    ("FG01", "市发展和改革委员会", 1, 0, 1),
    ("GX01", "市工业和信息化局", 1, 0, 1),
    ("SF01", "市公证处", 2, 1, 0),
    ("CZ01", "市财政局", 1, 0, 1),
    ("GD01", "国网供电公司营业厅", 2, 2, 0),
    ("ZLS01", "市自来水公司", 2, 1, 0),
    ("RQ01", "燃气公司", 2, 1, 0),
    ("DX01", "中国电信", 2, 1, 0),
    ("YD01", "中国移动", 1, 1, 0),
]

# The State Council's public holidays (放假) and make-up working days (调休上班), as published each year.
HOLIDAYS: dict[int, list[tuple[str, str, str]]] = {
    2023: [
        ("2023-01-01", "2023-01-02", "元旦"),
        ("2023-01-21", "2023-01-27", "春节"),
        ("2023-04-05", "2023-04-05", "清明节"),
        ("2023-04-29", "2023-05-03", "劳动节"),
        ("2023-06-22", "2023-06-24", "端午节"),
        ("2023-09-29", "2023-10-06", "中秋节、国庆节"),
        ("2023-12-30", "2023-12-31", "元旦"),
    ],
    2024: [
        ("2024-01-01", "2024-01-01", "元旦"),
        ("2024-02-10", "2024-02-17", "春节"),
        ("2024-04-04", "2024-04-06", "清明节"),
        ("2024-05-01", "2024-05-05", "劳动节"),
        ("2024-06-10", "2024-06-10", "端午节"),
        ("2024-09-15", "2024-09-17", "中秋节"),
        ("2024-10-01", "2024-10-07", "国庆节"),
    ],
    2025: [
        ("2025-01-01", "2025-01-01", "元旦"),
        ("2025-01-28", "2025-02-04", "春节"),
        ("2025-04-04", "2025-04-06", "清明节"),
        ("2025-05-01", "2025-05-05", "劳动节"),
        ("2025-05-31", "2025-06-02", "端午节"),
        ("2025-10-01", "2025-10-08", "国庆节、中秋节"),
    ],
    2026: [
        ("2026-01-01", "2026-01-03", "元旦"),
        ("2026-02-15", "2026-02-23", "春节"),
        ("2026-04-04", "2026-04-06", "清明节"),
        ("2026-05-01", "2026-05-05", "劳动节"),
        ("2026-06-19", "2026-06-21", "端午节"),
        ("2026-09-25", "2026-09-27", "中秋节"),
        ("2026-10-01", "2026-10-07", "国庆节"),
    ],
}
WORKDAYS: dict[int, list[tuple[str, str]]] = {
    2023: [
        ("2023-01-28", "春节调休"),
        ("2023-01-29", "春节调休"),
        ("2023-04-23", "劳动节调休"),
        ("2023-05-06", "劳动节调休"),
        ("2023-06-25", "端午节调休"),
        ("2023-10-07", "国庆节调休"),
        ("2023-10-08", "国庆节调休"),
    ],
    2024: [
        ("2024-02-04", "春节调休"),
        ("2024-02-18", "春节调休"),
        ("2024-04-07", "清明节调休"),
        ("2024-04-28", "劳动节调休"),
        ("2024-05-11", "劳动节调休"),
        ("2024-09-14", "中秋节调休"),
        ("2024-09-29", "国庆节调休"),
        ("2024-10-12", "国庆节调休"),
    ],
    2025: [
        ("2025-01-26", "春节调休"),
        ("2025-02-08", "春节调休"),
        ("2025-04-27", "劳动节调休"),
        ("2025-09-28", "国庆节调休"),
        ("2025-10-11", "国庆节调休"),
    ],
    2026: [
        ("2026-01-04", "元旦调休"),
        ("2026-02-14", "春节调休"),
        ("2026-02-28", "春节调休"),
        ("2026-05-09", "劳动节调休"),
        ("2026-09-20", "国庆节调休"),
        ("2026-10-10", "国庆节调休"),
    ],
}

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余"
    "潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬斌鑫宇浩凯健俊帆帅旭宁慧颖婷雪琳晶"
    "欣怡佳悦思晨阳博文瑞泽子涵可馨雨欣梓萱诗琪梦瑶"
)

NOTES: dict[str, tuple[str, ...]] = {
    "D01": ("8:40 仍未到岗", "11:15 提前离岗", "下午 13:12 到岗,迟到"),
    "D02a": ("离岗约 25 分钟,办事群众等候", "窗口无人,未办理请假手续"),
    "D02b": ("窗口空岗超过 1 小时",),
    "D02c": ("全天未到岗,未办理请假手续", "下午旷工半天以上"),
    "D03": ("与邻窗人员长时间聊天", "工作时间吃零食", "窗口内大声喧哗"),
    "D04a": ("工作时间玩手机", "工作时间浏览购物网站", "工作时间观看娱乐视频"),
    "D04b": ("多次提醒后仍在工作时间玩手机游戏",),
    "D05a": ("未穿制式服装",),
    "D05b": ("提醒后仍未佩戴工牌",),
    "D05c": ("窗口桌面摆放私人物品",),
    "D06": ("评价器未开启",),
    "D07a": ("对办事群众态度冷淡",),
    "D07b": ("与办事群众发生争吵,群众现场投诉",),
    "D08": ("无故缺席大厅周例会",),
    "D09": ("午休时间推脱办事群众,致其当日未能办理",),
    "D10": ("不服从安保人员停车管理",),
    "D11": ("与大厅管理人员发生争执",),
    "D14": ("被市政府督查通报点名批评",),
    "D15": ("省营商环境检查期间窗口空岗,造成不良影响",),
    "D17": ("后场无人值守,未履行请假手续",),
    "D18": ("对综窗转来的咨询推诿,答复不准确",),
    "D19a": ("未按要求落实一次性告知制度", "部分事项未按要求进驻大厅"),
    "B01": ("收到办事群众赠送的锦旗", "收到办事群众表扬信"),
    "B02a": ("市级媒体采访报道窗口服务",),
    "B02b": ("获省级主管部门通报表扬",),
    "B02c": ("服务案例被国家级媒体报道",),
    "B03": ("报送的政务信息被市政府采纳",),
    "B04": ("提出的合理化建议被大厅采纳",),
    "B05": ("代表大厅参加全市业务技能竞赛",),
    "B06": ("积极配合大厅延时服务工作",),
}
# Everyday deductions a patrol finds, with how often they turn up.
MINOR = (
    ("D01", 5),
    ("D02a", 3),
    ("D03", 4),
    ("D05a", 3),
    ("D05c", 2),
    ("D07a", 2),
    ("D06", 2),
    ("D04a", 3),
    ("D02b", 1),
    ("D05b", 1),
)
MAJOR = (("D02c", 1), ("D07b", 2), ("D09", 1), ("D08", 2), ("D10", 1))
BONUS = (("B01", 5), ("B03", 3), ("B06", 3), ("B04", 1), ("B05", 1), ("B02a", 1))

Progress = Callable[[int, int, str], Any]


@dataclass
class Login:
    username: str
    password: str
    role: str
    unit: str = ""


def is_loaded() -> bool:
    return db.session.get(Setting, SETTING_KEY) is not None


def has_units() -> bool:
    return db.session.scalar(select(func.count(Unit.id))) > 0


def logins() -> list[Login]:
    """The demo's logins (the staff roles, then one user per unit)."""
    out = [Login(u, p, str(r)) for u, p, r in STAFF_LOGINS]
    users = db.session.execute(
        select(User.username, Unit.name)
        .join(Unit, Unit.id == User.unit_id)
        .where(User.role == Role.UNIT, User.username.like("unit%"))
        .order_by(Unit.display_order)
    )
    out += [Login(name, UNIT_PASSWORD, str(Role.UNIT), unit) for name, unit in users]
    return out


def _months(today: date) -> list[tuple[int, int]]:
    """The 12 months before today's month, then today's month."""
    y, m = today.year, today.month
    out = []
    for _ in range(13):
        out.append((y, m))
        y, m = prev_month(y, m)
    return out[::-1]


def _d(text: str) -> date:
    return date.fromisoformat(text)


class _Builder:
    def __init__(self, seed: int, progress: Progress | None):
        self.rng = random.Random(seed)
        self.progress = progress
        self.today = hall_today()
        self.now = hall_now().replace(tzinfo=None)
        self.months = _months(self.today)
        self.past = self.months[:-1]
        self.calendar: dict[date, str] = {}
        self.units: list[Unit] = []
        self.staff: list[Staff] = []
        self.users: dict[str, User] = {}
        self.names: set[str] = set()
        self.next_staff = 1
        self.created: list[tuple[Incident, datetime]] = []
        self.pending: list[Incident] = []
        self.rulebooks: dict[tuple[int, int], Any] = {}
        # Staff who ever served a unit, built once the roster is done.
        self.by_unit: dict[int, list[Staff]] = {}
        self.acting: Token | None = None

    def tick(self, message: str) -> None:
        if self.progress:
            self.progress(0, 0, message)

    # ---------------------------------------------------------------- who is acting

    def act_as(self, username: str) -> None:
        """Run the services as this user, so history and audit rows name who did it."""
        self.stop_acting()
        user = self.users[username]
        if user.id is None:
            db.session.flush()
        self.acting = set_acting_user(user.id)

    def stop_acting(self) -> None:
        if self.acting is not None:
            reset_acting_user(self.acting)
            self.acting = None

    # ---------------------------------------------------------------- calendar, units, users

    def load_calendar(self) -> None:
        existing = set(db.session.scalars(select(CalendarDay.day)))
        for year in sorted(set(HOLIDAYS) | set(WORKDAYS)):
            for start, end, note in HOLIDAYS.get(year, []):
                day = _d(start)
                while day <= _d(end):
                    self.calendar[day] = "holiday"
                    if day not in existing:
                        db.session.add(CalendarDay(day=day, kind="holiday", note=note))
                    day += timedelta(days=1)
            for text, note in WORKDAYS.get(year, []):
                self.calendar[_d(text)] = "workday"
                if _d(text) not in existing:
                    db.session.add(CalendarDay(day=_d(text), kind="workday", note=note))
        db.session.flush()
        record("calendar.load", "calendar", after={"years": sorted(HOLIDAYS)})

    def load_units(self) -> None:
        window = 1
        for order, (code, name, windows, _extra, _c) in enumerate(UNITS, start=1):
            numbers = [str(n) for n in range(window, window + windows)]
            window += windows
            unit = Unit(code=code, name=name, windows=";".join(numbers), display_order=order, active=True)
            db.session.add(unit)
            self.units.append(unit)
        db.session.flush()
        for unit in self.units:
            record(
                "unit.create",
                f"unit:{unit.code}",
                after={"code": unit.code, "name": unit.name, "windows": unit.windows},
            )

    def load_users(self) -> None:
        for username, password, role in STAFF_LOGINS:
            user = User(
                username=username,
                role=role,
                display_name={Role.ADMIN: "管理员", Role.INSPECTOR: "巡查员", Role.LEADER: "局领导"}[role],
            )
            user.set_password(password)
            db.session.add(user)
            self.users[username] = user
        unit_user = User(username="unit1", role=Role.UNIT)
        unit_user.set_password(UNIT_PASSWORD)
        shared_hash = unit_user.password_hash  # one hash for the shared demo password keeps loading fast
        for number, unit in enumerate(self.units, start=1):
            user = User(
                username=f"unit{number}",
                role=Role.UNIT,
                unit=unit,
                display_name=unit.name,
                password_hash=shared_hash,
            )
            db.session.add(user)
            self.users[user.username] = user
        db.session.flush()
        for user in self.users.values():
            record(
                "user.create", f"user:{user.username}", after={"username": user.username, "role": user.role}
            )

    # ---------------------------------------------------------------- staff and roster

    def name(self) -> str:
        while True:
            given = self.rng.choice(GIVEN) + (self.rng.choice(GIVEN) if self.rng.random() < 0.7 else "")
            name = self.rng.choice(SURNAMES) + given
            if name not in self.names:
                self.names.add(name)
                return name

    def new_staff(self, unit: Unit, category: str, window: str | None, start: date) -> Staff:
        staff_id = f"S{self.next_staff:04d}"
        self.next_staff += 1
        staff = roster.add_staff(staff_id, self.name(), unit, category, window, start)
        self.staff.append(staff)
        return staff

    def load_roster(self) -> None:
        first = date(*self.months[0], 1)
        for (_code, _name, _windows, extra, c_staff), unit in zip(UNITS, self.units, strict=True):
            windows = unit.window_list
            for window in windows:
                self.new_staff(unit, "W", window, first - timedelta(days=self.rng.randint(60, 1500)))
            for i in range(extra):
                self.new_staff(
                    unit, "W", windows[i % len(windows)], first - timedelta(days=self.rng.randint(30, 900))
                )
            for _ in range(c_staff):
                self.new_staff(unit, "C", None, first - timedelta(days=self.rng.randint(30, 900)))
        db.session.flush()

    def replace(self, unit: Unit, window: str, day: date) -> None:
        """The holder of a window leaves the day before; a newcomer starts on `day` (one D13 replacement)."""
        holders = [
            s
            for s in self.staff
            if (p := s.posting_on(day - timedelta(days=1)))
            and p.unit_id == unit.id
            and p.window == window
            and p.end_date is None
        ]
        if holders:
            roster.end_staff(holders[0], day - timedelta(days=1))
        self.new_staff(unit, "W", window, day)

    def roster_changes(self) -> None:
        """A year of ordinary turnover, one move between units, and one unit with a D13-worthy week."""
        by_code = {u.code: u for u in self.units}
        # The D13 week: three of 不动产登记中心's windows change hands Monday to Wednesday.
        y, m = self.past[-4]
        monday = date(y, m, 8) + timedelta(days=(7 - date(y, m, 8).weekday()) % 7)
        bdc = by_code["BDC01"]
        for offset, window in enumerate(bdc.window_list[:3]):
            self.replace(bdc, window, monday + timedelta(days=offset))
        self.d13_month = (y, m)
        # Ordinary turnover: one replacement now and then, never two in a unit's week.
        ordinary = [
            ("SW01", 1),
            ("SB01", 2),
            ("GA02", 3),
            ("SJ01", 5),
            ("MZ01", 6),
            ("GD01", 7),
            ("GJJ01", 9),
            ("YB01", 10),
            ("GA01", 11),
        ]
        for code, index in ordinary:
            if index >= len(self.past):
                continue
            py, pm = self.past[index]
            unit = by_code[code]
            day = self.working_day(py, pm, self.rng.randint(3, 20))
            self.replace(unit, self.rng.choice(unit.window_list), day)
        # One window staffer moves from the tax bureau to the social security centre's window.
        py, pm = self.past[8]
        mover = next(
            s
            for s in self.staff
            if s.current and s.current.unit_id == by_code["SW01"].id and s.current.end_date is None
        )
        roster.move_staff(
            mover, by_code["SB01"], by_code["SB01"].window_list[-1], "W", self.working_day(py, pm, 12)
        )
        db.session.flush()

    # ---------------------------------------------------------------- days and times

    def working_day(self, year: int, month: int, near: int) -> date:
        """The first working day on or after day `near` of the month (or the last one before it)."""
        last = month_bounds(year, month)[1].day
        day = date(year, month, min(max(near, 1), last))
        probe = day
        while probe.month == month and not is_working_day(probe, self.calendar):
            probe += timedelta(days=1)
        if probe.month == month:
            return probe
        probe = day
        while not is_working_day(probe, self.calendar):
            probe -= timedelta(days=1)
        return probe

    def working_days(self, year: int, month: int) -> list[date]:
        day = date(year, month, 1)
        out = []
        while day.month == month:
            if is_working_day(day, self.calendar) and day <= self.today:
                out.append(day)
            day += timedelta(days=1)
        return out

    def moment(self, day: date) -> datetime | None:
        """A time in hall hours on `day`, before now; None when there is none left today."""
        for _ in range(10):
            if self.rng.random() < 0.55:
                at = datetime.combine(day, time(8, 30)) + timedelta(minutes=self.rng.randint(5, 175))
            else:
                at = datetime.combine(day, time(13, 0)) + timedelta(minutes=self.rng.randint(5, 235))
            if at < self.now:
                return at
        return None

    # ---------------------------------------------------------------- incidents

    def staff_on(self, unit: Unit, day: date, category: str) -> tuple[Staff | None, str | None]:
        if not self.by_unit:
            for person in self.staff:
                for unit_id in {p.unit_id for p in person.postings}:
                    self.by_unit.setdefault(unit_id, []).append(person)
        people = [
            (s, p)
            for s in self.by_unit.get(unit.id, [])
            if (p := s.posting_on(day)) and p.unit_id == unit.id and p.category == category
        ]
        if not people:
            return None, None
        person, posting = self.rng.choice(people)
        return person, posting.window

    def add(
        self,
        unit: Unit,
        rule: str,
        at: datetime,
        *,
        count: int = 1,
        with_staff: str | None = None,
        person: tuple[Staff | None, str | None] | None = None,
        **fields,
    ) -> Incident:
        """One incident, checked as services.incidents.create checks it (open month, rulebook fields);
        written in bulk with its history and audit rows by `write_pending`, since a year of incidents
        one flush at a time takes most of a minute on PostgreSQL."""
        staff, window = person or (None, None)
        if with_staff:
            staff, window = self.staff_on(unit, at.date(), with_staff)
        note = fields.pop("note", None) or self.rng.choice(NOTES.get(rule, ("",)))
        created = min(at + timedelta(minutes=self.rng.randint(2, 40)), self.now)
        incident = Incident(
            unit=unit,
            rule_code=rule,
            occurred_at=from_hall(at),
            count=count,
            staff=staff,
            window=window,
            note=note,
            public_text=f"经巡查发现:{note}" if rule.startswith("D") else note,
            source=fields.pop("source", "patrol" if rule.startswith("D") else "desk"),
            status=IncidentStatus.CONFIRMED,
            recorded_by_id=acting_user_id(),
            created_at=from_hall(created),
            deadline=fields.pop("deadline", None),
            rectified_on=fields.pop("rectified_on", None),
            exempt=fields.pop("exempt", False),
            linked=fields.pop("linked", None),
        )
        if fields:
            raise TypeError(f"unknown incident fields {sorted(fields)}")
        month = (at.year, at.month)
        if month not in self.rulebooks:
            check_month_open(at.date())
            self.rulebooks[month] = rulebook_for_month(*month)
        posting = staff.posting_on(at.date()) if staff else None
        problems = incidents.rule_problems(
            self.rulebooks[month],
            rule,
            count=count,
            staff_category=posting.category if posting else None,
            deadline=incident.deadline,
            exempt=incident.exempt,
            window=window,
            unit=unit,
        )
        if problems:
            raise DomainError(";".join(message for _, message in problems))
        self.pending.append(incident)
        self.created.append((incident, created))
        return incident

    def write_pending(self) -> None:
        """Flush the incidents made by `add`, then their "created" history and audit rows (as create())."""
        if not self.pending:
            return
        db.session.add_all(self.pending)
        db.session.flush()
        user_id = acting_user_id()
        for incident in self.pending:
            after = incidents.snapshot(incident)
            db.session.add(
                IncidentHistory(
                    incident=incident,
                    by_id=user_id,
                    action="created",
                    reason="",
                    snapshot=after,
                    at=incident.created_at,
                )
            )
            db.session.add(
                AuditLog(
                    action="incident.created",
                    target=f"incident:{incident.id}",
                    before=None,
                    after=after,
                    user_id=user_id,
                    at=incident.created_at,
                )
            )
        db.session.flush()
        self.pending.clear()

    def rule_staff(self, rule: str) -> str | None:
        if rule in ("D08", "D09", "D10", "D11", "D14", "D19a") or rule.startswith("B"):
            return None
        return "C" if rule in ("D16", "D17", "D18") else "W"

    def month_incidents(self, unit: Unit, profile: str, year: int, month: int, days: list[date]) -> None:
        """Ordinary patrol findings and bonuses for one unit and month, by the unit's profile."""
        roll = self.rng.random()
        bands = {
            "steady": ((0.75, (0, 4)), (0.97, (6, 12)), (1.0, (13, 18))),
            "average": ((0.45, (0, 5)), (0.85, (8, 15)), (1.0, (18, 26))),
            "weak": ((0.25, (2, 8)), (0.6, (10, 18)), (1.0, (20, 32))),
        }[profile]
        low, high = next(band for limit, band in bands if roll < limit)
        target = self.rng.randint(low, high)
        total = 0
        while total < target and days:
            pool = MAJOR if target - total >= 5 and self.rng.random() < 0.25 else MINOR
            rule = self.rng.choices([r for r, _ in pool], [w for _, w in pool])[0]
            at = self.moment(self.rng.choice(days))
            if at is None:
                break
            self.add(unit, rule, at, with_staff=self.rule_staff(rule))
            total += {
                "D01": 2,
                "D02a": 2,
                "D03": 2,
                "D05a": 2,
                "D05c": 2,
                "D07a": 2,
                "D06": 2,
                "D04a": 3,
                "D02b": 3,
                "D05b": 3,
                "D02c": 5,
                "D07b": 5,
                "D09": 5,
                "D08": 3,
                "D10": 5,
            }[rule]
        chance = {"steady": 0.35, "average": 0.25, "weak": 0.15}[profile]
        if days and self.rng.random() < chance:
            rule = self.rng.choices([r for r, _ in BONUS], [w for _, w in BONUS])[0]
            at = self.moment(self.rng.choice(days))
            if at is not None:
                self.add(unit, rule, at)

    def load_incidents(self) -> None:
        by_code = {u.code: u for u in self.units}
        profiles = {u.code: "steady" for u in self.units}
        for code in ("SB01", "GA02", "SJ01", "GJJ01", "GD01", "RQ01", "DX01"):
            profiles[code] = "average"
        for code in ("GA03", "ZLS01"):
            profiles[code] = "weak"
        # One unit unqualified twice in one calendar year (replace_staff), in the year with most past months.
        years: dict[int, list[tuple[int, int]]] = {}
        for ym in self.past:
            years.setdefault(ym[0], []).append(ym)
        year_months = max(years.values(), key=len)
        bad_months = {year_months[len(year_months) // 3], year_months[-2 if len(year_months) > 2 else -1]}
        special: dict[tuple[str, tuple[int, int]], Callable[[Unit, list[date]], None]] = {}
        for ym in bad_months:
            special[("ZLS01", ym)] = self.unqualified_month
        special[("RS01", self.past[2])] = self.absenteeism_month
        special[("SW01", self.past[5])] = self.bonus_over_cap
        special[("BDC01", self.past[1])] = self.d19a_in_time
        special[("GJJ01", self.past[-3])] = self.d19a_overdue
        special[("YB01", self.past[4])] = self.d06_exempt
        special[("GA01", self.past[7])] = self.inspection_visit
        special[("MZ01", self.past[6])] = self.warned_badge
        special[("GA03", self.past[9])] = self.weak_but_qualified
        count = 0
        for ym in self.months:
            days = self.working_days(*ym)
            for unit in self.units:
                hook = special.get((unit.code, ym))
                if hook:
                    hook(unit, days)
                else:
                    profile = profiles[unit.code]
                    if ym == self.months[-1]:
                        profile = "steady"  # the current month is young: fewer findings so far
                    self.month_incidents(unit, profile, *ym, days)
            count += 1
            self.write_pending()
            self.tick(f"扣加分记录 {count}/{len(self.months)} 个月")
        self.d19a_pending(by_code["SB01"], self.working_days(*self.months[-1]))
        self.write_pending()

    def at(self, days: list[date], n: int, hour: int = 9, minute: int = 40) -> datetime:
        return datetime.combine(days[min(n, len(days) - 1)], time(hour, minute))

    def unqualified_month(self, unit: Unit, days: list[date]) -> None:
        plan = [
            ("D02c", 1),
            ("D07b", 3),
            ("D04a", 5),
            ("D04a", 6),
            ("D02b", 8),
            ("D01", 9),
            ("D01", 11),
            ("D01", 12),
            ("D09", 14),
            ("D03", 15),
            ("D05a", 16),
        ]
        for rule, n in plan:
            self.add(unit, rule, self.at(days, n, 10, 5 + n), with_staff=self.rule_staff(rule))
        self.add(unit, "D10", self.at(days, 17, 14, 20), count=2, note="两名工作人员不服从安保人员停车管理")

    def absenteeism_month(self, unit: Unit, days: list[date]) -> None:
        for n in (2, 9, 15):
            self.add(unit, "D02c", self.at(days, n, 9, 0), with_staff="W")

    def bonus_over_cap(self, unit: Unit, days: list[date]) -> None:
        self.add(unit, "B02c", self.at(days, 3, 15, 0))
        self.add(unit, "B02b", self.at(days, 8, 15, 0))
        self.add(unit, "B01", self.at(days, 10, 10, 30))
        self.add(unit, "B01", self.at(days, 14, 11, 0), note="收到办事群众赠送的锦旗")
        self.add(unit, "D01", self.at(days, 6, 8, 45), with_staff="W")

    def d19a_in_time(self, unit: Unit, days: list[date]) -> None:
        at = self.at(days, 4, 10, 0)
        self.add(
            unit,
            "D19a",
            at,
            deadline=days[min(12, len(days) - 1)],
            rectified_on=days[min(9, len(days) - 1)],
            note="部分事项未按要求进驻大厅",
        )
        self.add(unit, "D03", self.at(days, 11, 14, 30), with_staff="W")

    def d19a_overdue(self, unit: Unit, days: list[date]) -> None:
        at = self.at(days, len(days) - 4, 10, 0)
        deadline = at.date() + timedelta(days=12)  # into the next month: its D19b lands there
        self.add(unit, "D19a", at, deadline=deadline, note="未按要求落实一次性告知制度")

    def d19a_pending(self, unit: Unit, days: list[date]) -> None:
        if not days:
            return
        at = self.moment(days[0])
        if at is not None:
            self.add(
                unit, "D19a", at, deadline=self.today + timedelta(days=10), note="未按要求落实容缺受理制度"
            )

    def d06_exempt(self, unit: Unit, days: list[date]) -> None:
        self.add(
            unit,
            "D06",
            self.at(days, 5, 9, 20),
            with_staff="W",
            exempt=True,
            note="评价器未开启;经核实当日大厅网络故障,免于扣分",
        )
        self.add(unit, "D06", self.at(days, 13, 14, 10), with_staff="W")

    def inspection_visit(self, unit: Unit, days: list[date]) -> None:
        violation = self.add(
            unit, "D02a", self.at(days, 7, 10, 15), with_staff="W", note="省营商环境检查组到访期间窗口空岗"
        )
        self.add(unit, "D15", self.at(days, 7, 10, 20), linked=violation)

    def warned_badge(self, unit: Unit, days: list[date]) -> None:
        staff, window = self.staff_on(unit, days[2], "W")
        warned_at = self.at(days, 2, 9, 5)
        db.session.add(
            Warning(
                unit=unit,
                staff=staff,
                window=window,
                rule_code="D05b",
                given_at=from_hall(warned_at),
                text="提醒佩戴工牌",
                given_by_id=self.users["inspector"].id,
            )
        )
        self.add(unit, "D05b", self.at(days, 6, 9, 10), person=(staff, window), note="提醒后仍未佩戴工牌")

    def weak_but_qualified(self, unit: Unit, days: list[date]) -> None:
        for rule, n in (
            ("D07b", 2),
            ("D04a", 4),
            ("D02b", 7),
            ("D01", 9),
            ("D03", 12),
            ("D05a", 14),
            ("D02a", 16),
        ):
            self.add(unit, rule, self.at(days, n, 15, 5), with_staff=self.rule_staff(rule))

    # ---------------------------------------------------------------- clock-in data

    def load_clock(self) -> dict:
        """Punches of C staff for the last two months, with a few misses, duplicates and a leave."""
        c_staff = [s for s in self.staff if any(p.category == "C" for p in s.postings)]
        prev, current = self.months[-2], self.months[-1]
        misses: set[tuple[str, date, str]] = set()
        for ym, n in ((prev, 7), (current, 4)):
            days = self.working_days(*ym)
            for _ in range(n):
                if days:
                    misses.add(
                        (self.rng.choice(c_staff).staff_id, self.rng.choice(days), self.rng.choice("ap"))
                    )
        prev_days = self.working_days(*prev)
        on_leave = (c_staff[0], prev_days[min(3, len(prev_days) - 1)])
        db.session.add(
            Leave(
                staff_pk=on_leave[0].id,
                start_date=on_leave[1],
                end_date=on_leave[1],
                note="病假(已审批)",
                created_by_id=self.users["admin"].id,
            )
        )
        outage_day = prev_days[min(10, len(prev_days) - 1)]
        db.session.add(
            ClockOutage(
                start_at=from_hall(datetime.combine(outage_day, time(8, 0))),
                end_at=from_hall(datetime.combine(outage_day, time(9, 0))),
                note="指纹机断电,上午打卡无法记录",
                created_by_id=self.users["admin"].id,
            )
        )
        rows = []
        for ym in (prev, current):
            for day in self.working_days(*ym):
                for person in c_staff:
                    posting = person.posting_on(day)
                    if posting is None or posting.category != "C":
                        continue
                    if (person, day) == on_leave:
                        continue
                    for half, base in (("a", time(8, 25)), ("p", time(16, 55))):
                        at = datetime.combine(day, base) + timedelta(seconds=self.rng.randint(0, 299))
                        if at > self.now or (half == "a" and day == outage_day):
                            continue
                        if (person.staff_id, day, half) in misses:
                            if self.rng.random() < 0.4:  # a late punch, outside the window
                                rows.append((person.staff_id, at + timedelta(minutes=9)))
                            continue
                        rows.append((person.staff_id, at))
                        if self.rng.random() < 0.04:  # pressed twice: counts once
                            rows.append((person.staff_id, at + timedelta(seconds=self.rng.randint(5, 40))))
        # A card the roster does not know: listed by the detection, never dropped silently.
        for ym in (prev, current):
            days = self.working_days(*ym)
            if days and datetime.combine(days[0], time(8, 27, 12)) < self.now:
                rows.append(("T9001", datetime.combine(days[0], time(8, 27, 12))))
        unique = sorted(set(rows))
        db.session.execute(
            ClockPunch.__table__.insert(),
            [{"staff_id": s, "punched_at": from_hall(at)} for s, at in unique],
        )
        record("import.clock", "import:clock", after={"kind": "clock", "rows": len(unique), "source": "demo"})
        db.session.flush()
        return {"punches": len(unique)}

    # ---------------------------------------------------------------- detections and months

    def run_detections(self) -> dict:
        y, m = self.d13_month
        d13 = detections.run(y, m, confirm=True, rules=("D13",))
        prev = detections.run(*self.months[-2], rules=("D16",))
        made = detections.pending(*self.months[-2])
        if made:
            detections.dismiss_many([made[-1].id], "经核实当日指纹机故障,已补录考勤")
            detections.confirm_many([i.id for i in made[:-1]])
        current = detections.run(*self.months[-1], rules=("D16",))
        return {"d13": d13["proposed"], "d16_previous": prev["proposed"], "d16_pending": current["proposed"]}

    def close_months(self) -> None:
        for ym in self.months:
            months.get_or_create(*ym)
        first = first_rulebook_day()
        for y, m in self.past:
            if first is not None and (y, m) < (first.year, first.month):
                continue  # not assessed: a month before the first rulebook is never closed
            row = months.close(y, m)
            nxt = date(*next_month(y, m), 1)
            closed = datetime.combine(self.working_day(nxt.year, nxt.month, 3), time(16, 30))
            row.closed_at = from_hall(closed)
            if (y, m) != self.past[-1]:
                months.publish(y, m)
                row.published_at = from_hall(closed + timedelta(days=2, hours=-6))
            self.tick(f"关账 {y}-{m:02d}")
        db.session.flush()

    # ---------------------------------------------------------------- timestamps

    def backdate(self) -> None:
        """Move creation times, history and audit rows to when each thing would have happened."""
        for incident, created in self.created:
            incident.created_at = from_hall(min(created, self.now))
        now = from_hall(self.now)
        for incident in db.session.scalars(select(Incident).where(Incident.source == "detect")):
            # Detections run the evening of the day they look at (or now, for today's).
            incident.created_at = min(incident.occurred_at + timedelta(hours=1), now)
        db.session.flush()
        db.session.execute(
            update(IncidentHistory)
            .where(IncidentHistory.action.in_(("created", "proposed")))
            .values(
                at=select(Incident.created_at)
                .where(Incident.id == IncidentHistory.incident_id)
                .scalar_subquery()
            )
        )
        db.session.execute(
            update(AuditLog)
            .where(AuditLog.action.in_(("incident.created", "incident.proposed")))
            .values(
                at=select(Incident.created_at)
                .where(literal("incident:") + cast(Incident.id, String) == AuditLog.target)
                .scalar_subquery()
            )
        )
        for row in db.session.scalars(select(Month).where(Month.closed_at.is_not(None))):
            for action, at in (("month.close", row.closed_at), ("month.publish", row.published_at)):
                if at is not None:
                    db.session.execute(
                        update(AuditLog)
                        .where(AuditLog.action == action, AuditLog.target == f"month:{row.label}")
                        .values(at=at)
                    )
        db.session.flush()


def load(seed: int = DEFAULT_SEED, progress: Progress | None = None) -> dict:
    """Build the demo hall into an empty database (the caller commits). Refuses a database with units."""
    if has_units():
        raise DomainError("数据库中已有单位,演示数据只能载入空数据库")
    b = _Builder(seed, progress)
    try:
        b.tick("工作日历、单位和用户")
        b.load_calendar()
        b.load_units()
        b.load_users()
        b.act_as("admin")
        b.load_roster()
        b.roster_changes()
        b.tick("扣加分记录")
        b.act_as("inspector")
        b.load_incidents()
        b.act_as("admin")
        b.tick("打卡记录和检测")
        clock = b.load_clock()
        found = b.run_detections()
        b.tick("关账和发布")
        load_notice_incidents(b.past)  # findings that give unit1 and unit2 notices (services.notices)
        b.close_months()
        honors = load_honors()  # the chosen, published honor rolls (services.honors)
        b.backdate()
        load_notices()  # notices answered in time, late, read, unread (services.notices)
        load_documents()  # the bulletins' 文号 as issued on their publication days (services.documents)
        requests = (
            load_requests(  # appeals, rectification reports, bonus claims decided both ways and waiting
                {b.users[n].unit_id: b.users[n].id for n in ("unit1", "unit2")},
                b.users["admin"].id,
                b.users["inspector"].id,
            )
        )
        load_inbox()  # dated notifications, today's reminders, bulletin receipts (services.notifications)
        summary = {
            "units": len(b.units),
            "staff": len(b.staff),
            "incidents": len(b.created) + found["d13"] + found["d16_previous"] + found["d16_pending"],
            "months": len(b.months),
            "first_month": f"{b.months[0][0]}-{b.months[0][1]:02d}",
            **clock,
            **found,
            **{f"honor_{k}": v for k, v in honors.items()},
            **requests,
        }
        db.session.add(
            Setting(key=SETTING_KEY, value={"seed": seed, "today": b.today.isoformat(), **summary})
        )
        record("demo.load", "demo", after=summary)
        db.session.flush()
    finally:
        b.stop_acting()
    return summary
