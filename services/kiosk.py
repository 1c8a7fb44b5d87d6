"""The hall screen's data: its settings, its cheap version, the panels it shows, the screens' last contact.

Nothing here scores: every number comes from `services.standings` (the one place results are made);
this module only picks the months, pages the rows and counts what the screen summarises.

The poll of 100 screens must stay cheap, so `current_version()` reads one tiny row (the newest audit
row of a change the screen shows, `SCREEN_ACTIONS`: every change writes one) and everything else it needs
(settings, working day) is cached per change in this process. The panels are built only when the
version moved, and cached by it too.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from threading import Lock
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, func, or_, select

from models import AuditLog, KioskScreen, Month, MonthStatus, Setting, db, utcnow
from scoring import (
    Grade,
    MonthResult,
    is_working_day,
    round_half_up,
)
from scoring.calendar import prev_month
from services import DomainError
from services.audit import record
from services.calendar_admin import hall_calendar
from services.clock import hall_now, hall_today, utc_now
from services.memo import database_key, remember
from services.months import last_published
from services.rulebooks import current_rulebook
from services.standings import standings

SETTING_KEY = "kiosk"
PANELS = ("live", "published", "honor", "topbottom")
DEFAULTS: dict[str, Any] = {
    "interval": 15,  # seconds each page is shown
    "panels": ["live", "published", "honor"],
    # **Policy**: naming the bottom units on a public screen is a hall's choice, so the list is off.
    "top_n": 5,
    "quiet_enabled": False,
    "quiet_start": "18:00",
    "quiet_end": "08:00",
    "quiet_non_working": False,  # weekends and holidays of the working-day calendar are quiet all day
    "opening_text": "",  # empty: the hall hours of the rulebook in force
    "rev": 0,  # bumped by every save: part of the screen's version
}
INTERVAL_RANGE = (2, 300)
TOP_N_RANGE = (1, 10)
DEFAULT_SCREEN = "大厅主屏"
# Rows per page. The screen's CSS lays the page out in rem, 1rem being the largest size at which 33.75rem
# fit the screen's short side and 60rem its long side (32 px on 1920x1080 and 1080x1920), so the room
# left for rows is at least the same on every screen of an orientation: 10 rows of 2.1rem fit a
# landscape page, 18 rows of 2.2rem a portrait one. A page holding at least half that many rows stretches
# them to fill the page (`Slide.fill`), so a balanced page (30 units, 18 a page: 15 + 15) or a taller
# screen never leaves the bottom empty.
ROWS_LANDSCAPE = 10
ROWS_PORTRAIT = 18
# The top and bottom lists hold top_n rows each (1–10); from this many on they fill their half of the page.
TOPBOTTOM_FILL_FROM = 3
# The honor roll (a published roll only, services.honors): a quarter's collectives and individuals side by
# side in landscape, stacked in portrait, in the top and bottom lists' larger rows (2.6rem): at most this
# many rows per list on a page; a page whose longest list holds HONOR_FILL_FROM rows fills the page.
HONOR_ROWS_LANDSCAPE = 7
HONOR_ROWS_PORTRAIT = 6
HONOR_FILL_FROM = 3
TOUCH_EVERY = timedelta(seconds=60)  # the screens' contacts are written at most this often per process
SILENT_AFTER = timedelta(minutes=2)
MAX_SCREENS = 200  # registered screens (an admin adds them; a hall has about 100)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_NAME_JUNK = re.compile(r"[\x00-\x1f\x7f<>\"'&]")

# What the screen shows moves only with these audit actions (every change writes one): the incidents that
# count (a proposal or its dismissal counts nothing), the units, the months' states, the rulebooks (scores,
# opening hours), the calendar (quiet days), an honor roll published or withdrawn (a draft's choice is not
# shown), the screen's settings, and the wholesale changes (an import of units, incidents or the calendar,
# a restore, the demo). A unit reading a notice, a document given its number, a login, an appeal or a
# report waiting for its answer change nothing on the screen: they do not move its version (nor its
# "数据更新于" stamp). A decision that changes an incident writes the incident's own row (incident.voided,
# incident.corrected), which does. tests/app/test_kiosk_version_scope.py makes every action a decision.
SCREEN_ACTIONS = frozenset(
    {
        "incident.created",
        "incident.confirmed",
        "incident.corrected",
        "incident.voided",
        "import.units",
        "import.incidents",
        "import.calendar",
        "honor.publish",
        "honor.unpublish",
        "kiosk.settings",
        "backup.restore",
        "demo.load",
    }
)
SCREEN_ACTION_PREFIXES = ("unit.", "month.", "rulebook.", "calendar.")


def on_screen(action: str) -> bool:
    """Whether an audit action may change what the hall screen shows (as `_ON_SCREEN` selects them)."""
    return action in SCREEN_ACTIONS or action.startswith(SCREEN_ACTION_PREFIXES)


_ON_SCREEN = or_(
    AuditLog.action.in_(sorted(SCREEN_ACTIONS)),
    *(AuditLog.action.startswith(prefix, autoescape=True) for prefix in SCREEN_ACTION_PREFIXES),
)
# The newest audit row (by the primary key: the one row a poll reads), and with KIOSK_SETTLE_SECONDS the
# newest written before the last boundary of that many seconds.
_NEWEST_ROW = select(AuditLog.id, AuditLog.at).order_by(AuditLog.id.desc()).limit(1)
_NEWEST_SETTLED_ROW = (
    select(AuditLog.id, AuditLog.at)
    .where(AuditLog.at < bindparam("cutoff"))
    .order_by(AuditLog.id.desc())
    .limit(1)
)
# The newest row the screen shows among the ids in (after, upto]: read back from `upto`, so over the rows
# written since the last look (`_newest_shown`), not over every row that changed nothing on the screen.
_NEWEST_SHOWN = (
    select(AuditLog.id, AuditLog.at)
    .where(_ON_SCREEN, AuditLog.id > bindparam("after"), AuditLog.id <= bindparam("upto"))
    .order_by(AuditLog.id.desc())
    .limit(1)
)
_ROW_AT = select(AuditLog.at).where(AuditLog.id == bindparam("id"))
_lock = Lock()
_settings_cache: dict[tuple, dict] = {}
_working_cache: dict[tuple, bool] = {}
_settled_cache: dict[tuple, tuple | None] = {}  # (database, window's boundary) -> newest settled change
_shown: dict[str, tuple[tuple, tuple | None]] = {}  # database -> (newest row looked at, newest shown by then)
_view_cache: dict[tuple, ScreenView] = {}
_pending: dict[str, dict[str, tuple[datetime, str]]] = {}  # database -> screen -> (contact, address)
_last_flush: dict[str, datetime] = {}
_build: str | None = None


# --- settings -------------------------------------------------------------------------------------


def _normalise(raw: dict | None) -> dict:
    """Stored settings merged over the defaults; anything stored that is no longer valid falls back."""
    out = dict(DEFAULTS)
    if isinstance(raw, dict):
        for key in DEFAULTS:
            if key in raw:
                out[key] = raw[key]
    try:
        problems = _problems(out)
    except (TypeError, ValueError):
        problems = ["?"]
    if problems:
        rev = out.get("rev") if isinstance(out.get("rev"), int) else 0
        out = {**DEFAULTS, "rev": rev}
    out["panels"] = [p for p in PANELS if p in out["panels"]]
    return out


def get_settings() -> dict:
    """The screen's settings (a fresh dict: change it and pass it to `save_settings`)."""
    row = db.session.get(Setting, SETTING_KEY)
    return _normalise(row.value if row else None)


def _int_in(value: Any, bounds: tuple[int, int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]


def _problems(values: dict) -> list[str]:
    problems = []
    if not _int_in(values.get("interval"), INTERVAL_RANGE):
        problems.append(f"轮播间隔应为 {INTERVAL_RANGE[0]} 至 {INTERVAL_RANGE[1]} 秒的整数")
    panels = values.get("panels")
    if not isinstance(panels, list | tuple) or not panels or any(p not in PANELS for p in panels):
        problems.append("请至少选择一个要显示的版块")
    if not _int_in(values.get("top_n"), TOP_N_RANGE):
        problems.append(f"前后名单的单位数应为 {TOP_N_RANGE[0]} 至 {TOP_N_RANGE[1]}")
    start, end = values.get("quiet_start"), values.get("quiet_end")
    if not (isinstance(start, str) and _HHMM.match(start) and isinstance(end, str) and _HHMM.match(end)):
        problems.append("非办公时间的起止时间应为 HH:MM 格式")
    elif start == end:
        problems.append("非办公时间的开始和结束时间不能相同")
    text = values.get("opening_text")
    if not isinstance(text, str) or len(text) > 80:
        problems.append("办公时间说明不能超过 80 个字")
    return problems


def save_settings(values: dict) -> dict:
    """Validate and store the settings (DomainError with every problem, nothing written), audited."""
    before = get_settings()
    merged = {**before, **{k: v for k, v in values.items() if k in DEFAULTS and k != "rev"}}
    if isinstance(merged.get("opening_text"), str):
        merged["opening_text"] = merged["opening_text"].strip()
    problems = _problems(merged)
    if problems:
        raise DomainError(";".join(problems))
    merged["panels"] = [p for p in PANELS if p in merged["panels"]]
    merged["rev"] = int(before.get("rev") or 0) + 1
    row = db.session.get(Setting, SETTING_KEY)
    if row is None:
        db.session.add(Setting(key=SETTING_KEY, value=merged))
    else:
        row.value = merged
    # The audit row is also what tells every screen's poll that something changed.
    record("kiosk.settings", "setting:kiosk", before=before, after=merged)
    db.session.flush()
    return merged


def is_quiet(settings: dict, now: time, working_day: bool = True) -> bool:
    """Quiet hours: [start, end) of hall time, across midnight when start > end; non-working days if asked."""
    if not settings.get("quiet_enabled"):
        return False
    if settings.get("quiet_non_working") and not working_day:
        return True
    start = time.fromisoformat(settings["quiet_start"])
    end = time.fromisoformat(settings["quiet_end"])
    if start < end:
        return start <= now < end
    return now >= start or now < end


def opening_hours() -> list[tuple[str, str]]:
    """The hall's opening hours, from the rulebook in force (its `hall_hours` policy)."""
    return [tuple(span) for span in current_rulebook().settings.hall_hours]


# --- the version of the screen --------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    tag: str  # the ETag and the poll URL's `v`
    marker: int  # the newest audit row id
    changed_at: datetime | None  # when that row was written: the "数据更新于" stamp
    settings: dict
    quiet: bool
    today: date


def _build_id() -> str:
    """Changes when the screen's template does, so a deployment refreshes every screen's fragment."""
    global _build
    if _build is None:
        root = Path(__file__).resolve().parent.parent
        digest = hashlib.sha1()
        for path in sorted((root / "templates" / "kiosk").glob("*.html")):
            digest.update(path.read_bytes())
        _build = digest.hexdigest()[:6]
    return _build


def _working(day: date) -> bool:
    try:
        return is_working_day(day, hall_calendar(day, day))
    except ValueError:
        return day.weekday() < 5


def _newest(statement, **params) -> tuple | None:
    # A pooled connection and a statement built once: the ORM session's bookkeeping would double its cost.
    with db.engine.connect() as conn:
        row = conn.execute(statement, params).first()
    return tuple(row) if row else None


def _newest_shown(newest: tuple | None) -> tuple | None:
    """The newest audit row (id, at) of a change the screen shows, at or before the audit row `newest`.

    This process remembers the last row it looked up to, so it reads only the rows written since (a login,
    a notice read, a document numbered: a few), never back through every row that changed nothing on the
    screen. The first look, or a log that is no longer the one looked at (the row remembered is gone or
    changed: a restore, a wiped test database), reads back from `newest`."""
    if newest is None:
        return None
    key = database_key()
    with _lock:
        known = _shown.get(key)
    if known is not None and known[0] == newest:
        return known[1]
    if known is not None and known[0][0] < newest[0] and _newest(_ROW_AT, id=known[0][0]) == (known[0][1],):
        found = _newest(_NEWEST_SHOWN, after=known[0][0], upto=newest[0])
        shown = found if found is not None else known[1]
    else:
        shown = _newest(_NEWEST_SHOWN, after=0, upto=newest[0])
    with _lock:
        _shown[key] = (newest, shown)
    return shown


def current_version() -> Version:
    """The screen's version, without rendering or scoring: one indexed one-row query when nothing changed.

    It moves with a change the screen shows (`SCREEN_ACTIONS`: incidents, months, units, rulebooks,
    calendar, honor rolls, settings; each writes an audit row), a new hall day, entering or leaving quiet
    hours, and a new screen template; not with an audit row that changes nothing on it.
    """
    # While desks log incidents every second, every poll would find a new version and each process would
    # score and render again: KIOSK_SETTLE_SECONDS lets the version move once per that many seconds at most
    # (a boundary of the wall clock, so every worker gives the same tag); 0 shows each change at once.
    # Within a window the answer only moves for a change committed late, so each process asks once per
    # window: an unchanged poll then costs no query at all (the late change shows at the next boundary).
    settle = current_app.config.get("KIOSK_SETTLE_SECONDS", 0)
    if settle > 0:
        now_s = utcnow().timestamp()
        cutoff = datetime.fromtimestamp(now_s - now_s % settle, UTC)
        row = remember(
            _settled_cache,
            (database_key(), cutoff),
            lambda: _newest_shown(_newest(_NEWEST_SETTLED_ROW, cutoff=cutoff)),
        )
    else:
        row = _newest_shown(_newest(_NEWEST_ROW))
    marker, changed_at = (row[0], row[1]) if row else (0, None)
    # The row's time is in the keys too: in tests the audit ids start again after each wipe.
    base = (database_key(), marker, changed_at)
    settings = remember(_settings_cache, base, get_settings)
    now = hall_now()
    today = hall_today()
    working = True
    if settings["quiet_enabled"] and settings["quiet_non_working"]:
        working = remember(_working_cache, (*base, now.date()), lambda: _working(now.date()))
    quiet = is_quiet(settings, now.time(), working)
    # The change's time rides along with its id: after a restore to an older backup the ids repeat.
    when = int(changed_at.timestamp() * 1000) % 10**9 if changed_at else 0
    tag = f"{marker}.{when}-{today:%Y%m%d}-{int(quiet)}-{settings['rev']}-{_build_id()}"
    return Version(tag=tag, marker=marker, changed_at=changed_at, settings=settings, quiet=quiet, today=today)


# --- the panels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    rank: int
    name: str
    score: int
    deductions: int = 0
    bonus: int = 0
    grade: str = ""
    change: int | None = None  # rank change against the panel's `compared_to` month (positive: up)
    new: bool = False  # not ranked in the `compared_to` month
    person: str = ""  # honor roll: an advanced individual's name (the only personal data on the screen)
    window: str = ""  # honor roll: the individual's window ("3号窗口")


@dataclass(frozen=True)
class Slide:
    key: str  # "live-2": the rotation keeps showing the same key across a refresh
    panel: str
    page: int
    pages: int
    rows: tuple[Row, ...]
    fill: bool = False  # enough rows to stretch them over the whole page (the CSS class k-fill)
    roll: str = ""  # honor roll: the period shown ("2026年第三季度", "2025年度")
    lists: tuple[HonorList, ...] = ()  # honor roll: the lists of this page


@dataclass(frozen=True)
class HonorList:
    kind: str  # collective 先进集体 | individual 先进个人 | year_unit 年度优秀窗口单位
    rows: tuple[Row, ...]


@dataclass
class Panel:
    kind: str  # live | published | honor | topbottom
    year: int
    month: int
    status: str = MonthStatus.OPEN
    rows: list[Row] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    quarter: int = 0  # honor roll: the latest published quarter roll's quarter (0: a year roll only)
    compared_to: tuple[int, int] | None = None  # the month of ▲/▼: the last published one before this
    top: list[Row] = field(default_factory=list)
    bottom: list[Row] = field(default_factory=list)
    rolls: list[tuple[str, str, list[HonorList]]] = field(default_factory=list)  # (kind, period, lists)
    landscape: list[Slide] = field(default_factory=list)
    portrait: list[Slide] = field(default_factory=list)


@dataclass
class ScreenView:
    version: Version
    panels: list[Panel]
    quiet: bool
    interval: int
    hours: list[tuple[str, str]]
    opening_text: str

    def slides(self, orientation: str) -> list[tuple[Panel, Slide]]:
        """Every page of every panel, in rotation order, for "landscape" or "portrait"."""
        return [(panel, slide) for panel in self.panels for slide in getattr(panel, orientation)]


def pages(rows: list[Row], most: int) -> list[list[Row]]:
    """Rows split into the fewest pages of at most `most`, balanced (30 rows, 18 a page: 15 + 15)."""
    if not rows:
        return [[]]
    count = -(-len(rows) // most)
    size = -(-len(rows) // count)
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _split(rows: list[Row], count: int) -> list[list[Row]]:
    """Rows in `count` balanced pages (the first ones one row longer); pages may be empty."""
    size, extra = divmod(len(rows), count)
    out, at = [], 0
    for i in range(count):
        n = size + (1 if i < extra else 0)
        out.append(rows[at : at + n])
        at += n
    return out


def _honor_slides(panel: Panel, most: int) -> list[Slide]:
    """Each roll's pages: a quarter's collectives beside its individuals, a year's units in two columns
    when they are more than a list holds; every list at most `most` rows a page."""
    pages_of: list[tuple[str, list[HonorList]]] = []
    for kind, period, lists in panel.rolls:
        if kind == "year":
            rows = list(lists[0].rows)
            for chunk in pages(rows, 2 * most):
                halves = [chunk] if len(chunk) <= most else _split(chunk, 2)
                pages_of.append((period, [HonorList("year_unit", tuple(h)) for h in halves]))
            continue
        count = max(1, *(-(-len(li.rows) // most) for li in lists))
        split = [_split(list(li.rows), count) for li in lists]
        for i in range(count):
            page = [HonorList(li.kind, tuple(chunks[i])) for li, chunks in zip(lists, split, strict=True)]
            pages_of.append((period, [p for p in page if p.rows] or page[:1]))
    return [
        Slide(
            key=f"honor-{i}",
            panel="honor",
            page=i,
            pages=len(pages_of),
            rows=tuple(r for li in lists for r in li.rows),
            fill=max(len(li.rows) for li in lists) >= HONOR_FILL_FROM,
            roll=period,
            lists=tuple(lists),
        )
        for i, (period, lists) in enumerate(pages_of, start=1)
    ]


def _slides(panel: Panel, most: int) -> list[Slide]:
    if panel.kind == "honor":
        return _honor_slides(panel, HONOR_ROWS_LANDSCAPE if most == ROWS_LANDSCAPE else HONOR_ROWS_PORTRAIT)
    if panel.kind == "topbottom":
        fill = len(panel.top) >= TOPBOTTOM_FILL_FROM
        return [Slide(key="topbottom-1", panel="topbottom", page=1, pages=1, rows=(), fill=fill)]
    split = pages(panel.rows, most)
    return [
        Slide(
            key=f"{panel.kind}-{i}",
            panel=panel.kind,
            page=i,
            pages=len(split),
            rows=tuple(chunk),
            fill=2 * len(chunk) >= most,
        )
        for i, chunk in enumerate(split, start=1)
    ]


def _average(result: MonthResult) -> int:
    return round_half_up(sum(u.score for u in result.units), len(result.units)) if result.units else 0


def _grades(result: MonthResult) -> dict[str, int]:
    counts = {g.value: 0 for g in Grade}
    for unit in result.units:
        counts[str(unit.grade)] += 1
    return counts


def _month_rows(result: MonthResult) -> list[Row]:
    # Flags are left out on purpose: they are supervisory measures against a unit (reports to the
    # discipline inspectors, staff replacement) that the bulletin handles; a public screen shows the
    # ranking only, as the hall's published notice does.
    return [
        Row(
            rank=u.rank,
            name=u.name,
            score=u.score,
            deductions=u.deductions,
            bonus=u.bonus,
            grade=str(u.grade),
        )
        for u in result.units
    ]


def _compared(result: MonthResult, earlier: MonthResult | None) -> list[Row]:
    """The month's rows, each with its rank change against `earlier` (▲/▼), when there is one."""
    rows = _month_rows(result)
    if earlier is None:
        return rows
    was = {u.code: u.rank for u in earlier.units}
    return [
        replace(
            row,
            change=None if unit.code not in was else was[unit.code] - unit.rank,
            new=unit.code not in was,
        )
        for row, unit in zip(rows, result.units, strict=True)
    ]


def _live_panel(today: date, published: set[tuple[int, int]]) -> Panel:
    result = standings(today.year, today.month)
    row = db.session.scalar(select(Month.status).where(Month.year == today.year, Month.month == today.month))
    items = [i for u in result.units for i in u.items]
    # ▲/▼ against the last published month before this one: the official ranking the hall last saw.
    before = max((m for m in published if m < (today.year, today.month)), default=None)
    earlier = standings(*before) if before is not None else None
    return Panel(
        kind="live",
        year=today.year,
        month=today.month,
        status=row or MonthStatus.OPEN,
        rows=_compared(result, earlier),
        stats={
            "units": len(result.units),
            "average": _average(result),
            "deduction_items": sum(1 for i in items if i.points < 0),
            "bonus_items": sum(1 for i in items if i.points > 0),
        },
        compared_to=before,
    )


def _published_panel(published: set[tuple[int, int]]) -> Panel | None:
    latest = last_published()
    if latest is None:
        return None
    year, month = latest.year, latest.month
    result = standings(year, month)
    before = prev_month(year, month)
    earlier = standings(*before) if before in published else None
    rows = _compared(result, earlier)
    return Panel(
        kind="published",
        year=year,
        month=month,
        status=MonthStatus.PUBLISHED,
        rows=rows,
        stats={"units": len(result.units), "average": _average(result), "grades": _grades(result)},
        compared_to=before if earlier is not None else None,
    )


def _honor_panel() -> Panel | None:
    """The latest published quarter roll and year roll (services.honors); None until one is published, so
    the panel is left out of the rotation. Never the computed candidates: only what an admin published."""
    from services.honors import latest_published, window_label

    quarter, year = latest_published()
    rolls: list[tuple[str, str, list[HonorList]]] = []
    if quarter is not None and quarter.entries:
        collectives = [e for e in quarter.entries if e.kind == "collective"]
        people = [e for e in quarter.entries if e.kind == "individual" and e.staff is not None]
        lists = [
            HonorList(
                "collective",
                tuple(Row(rank=i, name=e.unit.name, score=0) for i, e in enumerate(collectives, start=1)),
            ),
            HonorList(
                "individual",
                tuple(
                    Row(rank=i, name=e.unit.name, score=0, person=e.staff.name, window=window_label(e.window))
                    for i, e in enumerate(people, start=1)
                ),
            ),
        ]
        rolls.append(("quarter", quarter.label, [li for li in lists if li.rows]))
    if year is not None and year.entries:
        units = [e for e in year.entries if e.kind == "year_unit"]
        rows = tuple(Row(rank=i, name=e.unit.name, score=0) for i, e in enumerate(units, start=1))
        if rows:
            rolls.append(("year", f"{year.year}年度", [HonorList("year_unit", rows)]))
    if not rolls:
        return None
    latest = quarter or year
    return Panel(
        kind="honor",
        year=latest.year,
        month=3 * latest.quarter if latest.quarter else 12,
        quarter=latest.quarter,
        rows=[r for _k, _p, lists in rolls for li in lists for r in li.rows],
        rolls=rolls,
    )


def _topbottom_panel(live: Panel, n: int) -> Panel:
    rows = live.rows
    n = min(n, len(rows) // 2) if len(rows) > 1 else len(rows)
    panel = Panel(kind="topbottom", year=live.year, month=live.month, status=live.status, rows=rows)
    panel.top = rows[:n]
    panel.bottom = rows[len(rows) - n :] if n else []
    return panel


def _build_view(version: Version) -> ScreenView:
    settings = version.settings
    months = db.session.execute(select(Month.year, Month.month, Month.status)).all()
    published = {(y, m) for y, m, s in months if s == MonthStatus.PUBLISHED}
    panels: list[Panel] = []
    live = None
    if not version.quiet:
        wanted = settings["panels"]
        if "live" in wanted or "topbottom" in wanted:
            live = _live_panel(version.today, published)
        for kind in wanted:
            panel = None
            if kind == "live":
                panel = live
            elif kind == "published":
                panel = _published_panel(published)
            elif kind == "honor":
                panel = _honor_panel()
            elif kind == "topbottom" and live is not None and live.rows:
                panel = _topbottom_panel(live, settings["top_n"])
            if panel is not None:
                panels.append(panel)
        if not panels:
            # Nothing chosen can be shown yet (e.g. only the bulletin, none published): never a blank screen.
            panels.append(live or _live_panel(version.today, published))
        for panel in panels:
            panel.landscape = _slides(panel, ROWS_LANDSCAPE)
            panel.portrait = _slides(panel, ROWS_PORTRAIT)
    return ScreenView(
        version=version,
        panels=panels,
        quiet=version.quiet,
        interval=settings["interval"],
        hours=opening_hours(),
        opening_text=settings["opening_text"],
    )


def screen_view(version: Version) -> ScreenView:
    """What the screen shows for this version (built once per version in this process)."""
    return remember(
        _view_cache, (database_key(), version.tag, version.changed_at), lambda: _build_view(version)
    )


def clear_caches() -> None:
    """Forget every cached version, view and contact (tests reuse audit ids after wiping the database)."""
    global _build
    with _lock:
        _settings_cache.clear()
        _working_cache.clear()
        _settled_cache.clear()
        _shown.clear()
        _view_cache.clear()
        _pending.clear()
        _last_flush.clear()
        _build = None


# --- the registered screens and their last contact -------------------------------------------------
#
# An admin registers each screen and gets its address with a random token (`/kiosk/?screen=<token>`); only
# the token's SHA-256 is stored. A poll with a token is remembered in memory (never a query in the poll);
# once a minute the remembered contacts update the rows of known tokens, and an unknown token updates
# nothing. So a stranger can still look at the public screen but can add no row.

TOKEN_BYTES = 24  # 32 URL-safe characters, 192 random bits
ORIENTATIONS = ("landscape", "portrait")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
MAX_PENDING = 2 * MAX_SCREENS  # unknown tokens remembered per minute and process are bounded too


def orientation_labels() -> dict[str, str]:
    return {"landscape": _("横屏"), "portrait": _("竖屏")}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def screen_token(raw: str | None) -> str | None:
    """The `?screen=` token if it has a token's shape (a name typed in the old way is not one), else None."""
    raw = (raw or "").strip()
    return raw if _TOKEN.match(raw) else None


def screen_name(raw: str | None) -> str:
    """A screen's name as an admin types it: no control or markup characters, at most 32 characters."""
    return _NAME_JUNK.sub("", (raw or "")).strip()[:32]


def note_contact(token: str | None, address: str = "") -> bool:
    """Remember a screen's contact in this process; True when the contacts are due to be written.

    They are written together, at most once a minute per process (`write_contacts`), so 100 screens
    polling every 4 s cost one small transaction a minute, not 25 a second. No token, nothing to note.
    """
    if token is None:
        return False
    key = database_key()
    digest = token_hash(token)
    now = utc_now()
    with _lock:
        pending = _pending.setdefault(key, {})
        if digest in pending or len(pending) < MAX_PENDING:
            pending[digest] = (now, (address or "")[:64])
        last = _last_flush.get(key)
        if last is not None and abs(now - last) < TOUCH_EVERY:
            return False
        _last_flush[key] = now
    return True


def write_contacts() -> int:
    """Flush the remembered contacts onto the registered screens (an unknown token writes nothing); no
    audit row (a heartbeat is not a change, and it would refresh every screen). If the caller's commit
    fails, this round is lost: the next carries every screen still polling. Returns the rows updated."""
    key = database_key()
    with _lock:
        pending = _pending.pop(key, {})
    if not pending:
        return 0
    known = list(db.session.scalars(select(KioskScreen).where(KioskScreen.token_hash.in_(pending))))
    for screen in known:
        screen.last_seen_at, screen.address = pending[screen.token_hash]
    db.session.flush()
    return len(known)


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def register_screen(name: str, orientation: str, user_id: int | None) -> tuple[KioskScreen, str]:
    """Register a screen; returns it and its token (shown once to the admin, only its hash is kept)."""
    name = screen_name(name)
    if not name:
        raise DomainError(_("请填写大屏名称"))
    if orientation not in ORIENTATIONS:
        raise DomainError(_("请选择大屏方向"))
    if db.session.scalar(select(KioskScreen.id).where(KioskScreen.name == name)) is not None:
        raise DomainError(_("已有名为“%(name)s”的大屏", name=name))
    if (db.session.scalar(select(func.count(KioskScreen.id))) or 0) >= MAX_SCREENS:
        raise DomainError(_("最多登记 %(n)d 块大屏,请先撤销不用的大屏", n=MAX_SCREENS))
    token, digest = _new_token()
    screen = KioskScreen(
        name=name,
        orientation=orientation,
        token_hash=digest,
        registered_at=utc_now(),
        registered_by_id=user_id,
        address="",
    )
    db.session.add(screen)
    db.session.flush()
    record(
        "kiosk.screen.register",
        f"kiosk_screen:{screen.id}",
        after={"name": name, "orientation": orientation},
        user_id=user_id,
    )
    return screen, token


def reissue_token(screen: KioskScreen, user_id: int | None) -> str:
    """A new address for a screen (the old one stops being recorded): when the old URL was lost or leaked."""
    token, screen.token_hash = _new_token()
    record("kiosk.screen.reissue", f"kiosk_screen:{screen.id}", after={"name": screen.name}, user_id=user_id)
    db.session.flush()
    return token


def revoke_screen(screen: KioskScreen, user_id: int | None) -> None:
    """Forget a screen: its address still shows the public page, but nothing of it is recorded."""
    record(
        "kiosk.screen.revoke",
        f"kiosk_screen:{screen.id}",
        before={"name": screen.name, "orientation": screen.orientation},
        user_id=user_id,
    )
    db.session.delete(screen)
    db.session.flush()


@dataclass(frozen=True)
class ScreenContact:
    id: int
    name: str
    orientation: str
    address: str
    registered_at: datetime | None
    last_seen_at: datetime | None
    silent: bool


def screens_version() -> tuple:
    """What the screens list shows beside audited changes: each screen's last contact, which its polls
    write without an audit row (how many have reported, and the newest contact)."""
    newest = select(func.count(KioskScreen.last_seen_at), func.max(KioskScreen.last_seen_at))
    return tuple(db.session.execute(newest).one())


def screens() -> list[ScreenContact]:
    """Every registered screen with its last contact; silent when quiet for over two minutes (or never
    seen)."""
    now = utc_now()
    return [
        ScreenContact(
            id=s.id,
            name=s.name,
            orientation=s.orientation,
            address=s.address,
            registered_at=s.registered_at,
            last_seen_at=s.last_seen_at,
            silent=s.last_seen_at is None or now - s.last_seen_at > SILENT_AFTER,
        )
        for s in db.session.scalars(select(KioskScreen).order_by(KioskScreen.name).limit(MAX_SCREENS))
    ]
