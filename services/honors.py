"""The honor roll (光荣榜), chosen by an admin and published to the hall.

Quarter rolls: the advanced collectives (先进集体) are chosen from the computed candidates
(`scoring.quarter_candidates`: units excellent in every assessed month of the quarter and never
`quarter_ineligible`); the advanced individuals (先进个人) from the candidate units' staff (posted there
during the quarter), each shown with their window and their deductions of the quarter (the tallies page's
per-staff counts, `services.dashboard.tallies`). Year rolls: the excellent window units (年度优秀窗口单位).

When a period can be chosen (**Policy**)
----------------------------------------
A roll is chosen once its period has ended *and* every assessed month of it is closed (or published): the
candidates then come from frozen standings and cannot change under the admin's choice. Closing a month
already needs the month to have ended (services.bounds), so a quarter or year still running, or in the
future, is refused in Chinese. The assessed months of a period are its months from the hall's first closed
month on (and from the first rulebook on): a hall that started using the system mid-quarter or mid-year
chooses from the months it assessed, as the hall screen never showed a period before the system was used.

Year candidates (**Policy**): the units scored in every assessed month of the year whose average score
(rounded half up) is graded excellent by the rulebook in force in the year's last assessed month.

draft → published → (unpublish with a reason, audited) → draft. Only a draft is edited. Publishing notifies
each honoured unit (kind "honor") and puts the roll on the hall screen (services.kiosk reads
`latest_published`). Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Month, MonthStatus, Posting, Unit, db
from models.honor import ROLL_KINDS, HonorEntry, HonorRoll
from scoring import Grade, grade_for, quarter_candidates, quarter_months, round_half_up
from scoring.calendar import month_bounds
from services import DomainError
from services.audit import acting_user_id, record
from services.bounds import first_rulebook_day
from services.clock import hall_today, utc_now
from services.rulebooks import rulebook_for_month
from services.standings import standings_for

CLOSED = (MonthStatus.CLOSED, MonthStatus.PUBLISHED)
QUARTER_NAMES = ("第一季度", "第二季度", "第三季度", "第四季度")
ENTRY_TITLES = {"collective": "先进集体", "individual": "先进个人", "year_unit": "年度优秀窗口单位"}
MAX_REASON = 500


# ---------------------------------------------------------------- periods


def period_label(kind: str, year: int, quarter: int = 0) -> str:
    return f"{year}年" if kind == "year" else f"{year}年{QUARTER_NAMES[quarter - 1]}"


def _check_kind(kind: str, year: int, quarter: int) -> None:
    if kind not in ROLL_KINDS:
        raise DomainError("光荣榜类型无效")
    if not 2000 <= year <= 9998:
        raise DomainError(f"年份 {year} 无效")
    if kind == "quarter" and not 1 <= quarter <= 4:
        raise DomainError(f"季度 {quarter} 无效,应为 1 至 4")
    if kind == "year" and quarter != 0:
        raise DomainError("年度光荣榜没有季度")


def _all_months(kind: str, year: int, quarter: int) -> list[tuple[int, int]]:
    return list(quarter_months(year, quarter)) if kind == "quarter" else [(year, m) for m in range(1, 13)]


def first_assessed_month() -> tuple[int, int] | None:
    """The hall's first closed (or published) month: the system's first assessed month."""
    row = db.session.execute(
        select(Month.year, Month.month)
        .where(Month.status.in_(CLOSED))
        .order_by(Month.year, Month.month)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def _first_month() -> tuple[int, int] | None:
    """The first month a roll may count: the first assessed month, not before the first rulebook."""
    first = first_assessed_month()
    if first is None:
        return None
    rule = first_rulebook_day()
    return max(first, (rule.year, rule.month)) if rule else first


def assessed_months(kind: str, year: int, quarter: int = 0) -> list[tuple[int, int]]:
    """The period's months from the first assessed month (and the first rulebook) on."""
    return _assessed(kind, year, quarter, _first_month())


def _assessed(kind: str, year: int, quarter: int, start: tuple[int, int] | None) -> list[tuple[int, int]]:
    return [] if start is None else [m for m in _all_months(kind, year, quarter) if m >= start]


def period_problem(kind: str, year: int, quarter: int = 0) -> str | None:
    """Why the period's roll cannot be chosen or published now (Chinese), or None."""
    statuses = dict(
        ((y, m), s)
        for y, m, s in db.session.execute(
            select(Month.year, Month.month, Month.status).where(Month.year == year)
        )
    )
    return _period_problem(kind, year, quarter, _first_month(), statuses)


def _period_problem(
    kind: str, year: int, quarter: int, start: tuple[int, int] | None, statuses: dict[tuple[int, int], str]
) -> str | None:
    """`period_problem` from the first countable month and the months' statuses, read once by the caller
    (the honours page asks it for every quarter and year of five years)."""
    try:
        _check_kind(kind, year, quarter)
    except DomainError as error:
        return str(error)
    label = period_label(kind, year, quarter)
    last = _all_months(kind, year, quarter)[-1]
    if month_bounds(*last)[1] >= hall_today():  # the period's last day is today or later
        return f"{label}尚未结束,不能评选光荣榜"
    months = _assessed(kind, year, quarter, start)
    if not months:
        return f"{label}没有已关账的考核月份,不能评选光荣榜"
    for y, m in months:
        if statuses.get((y, m)) not in CLOSED:
            return f"{y}年{m}月尚未关账,请先关账再评选{label}光荣榜"
    return None


def check_period(kind: str, year: int, quarter: int = 0) -> list[tuple[int, int]]:
    problem = period_problem(kind, year, quarter)
    if problem:
        raise DomainError(problem)
    return assessed_months(kind, year, quarter)


# ---------------------------------------------------------------- candidates


@dataclass
class UnitCandidate:
    unit_id: int
    code: str
    name: str
    scores: tuple[int, ...]  # per assessed month
    total: int
    average: int
    excellent_months: int = 0


@dataclass
class StaffCandidate:
    staff_pk: int
    staff_id: str
    name: str
    unit_id: int
    unit_name: str
    category: str
    window: str | None
    deductions: int = 0  # deduction points of the quarter (the tallies page's per-staff count)


@dataclass
class Candidates:
    kind: str
    year: int
    quarter: int
    months: list[tuple[int, int]]
    units: list[UnitCandidate] = field(default_factory=list)
    staff: list[StaffCandidate] = field(default_factory=list)

    @property
    def label(self) -> str:
        return period_label(self.kind, self.year, self.quarter)


def candidates(kind: str, year: int, quarter: int = 0) -> Candidates:
    """The period's candidates (DomainError when the period cannot be chosen yet)."""
    months = check_period(kind, year, quarter)
    results = standings_for(months)
    ordered = [results[m] for m in months]
    ids = {u.code: u.id for u in db.session.scalars(select(Unit))}
    out = Candidates(kind, year, quarter, months)

    def unit_row(code: str) -> UnitCandidate:
        units = [r.unit(code) for r in ordered]
        scores = tuple(u.score for u in units if u is not None)
        return UnitCandidate(
            unit_id=ids[code],
            code=code,
            name=[u for u in units if u is not None][-1].name,
            scores=scores,
            total=sum(scores),
            average=round_half_up(sum(scores), len(scores)),
            excellent_months=sum(1 for u in units if u is not None and u.grade == Grade.EXCELLENT),
        )

    if kind == "quarter":
        out.units = [unit_row(code) for code in quarter_candidates(ordered) if code in ids]
        out.staff = _staff_candidates(out)
    else:
        settings = rulebook_for_month(*months[-1]).settings
        every = set.intersection(*({u.code for u in r.units} for r in ordered))
        rows = [unit_row(code) for code in sorted(every) if code in ids]
        rows = [r for r in rows if grade_for(r.average, settings) == Grade.EXCELLENT]
        out.units = sorted(rows, key=lambda r: (-r.average, -r.total, r.code))
    return out


def _staff_candidates(cands: Candidates) -> list[StaffCandidate]:
    """Staff posted at a candidate unit during the quarter, with the window of their latest such posting."""
    from services.dashboard import tallies

    if not cands.units:
        return []
    start = month_bounds(*cands.months[0])[0]
    end = month_bounds(*cands.months[-1])[1]
    names = {u.unit_id: u.name for u in cands.units}
    postings = db.session.scalars(
        select(Posting)
        .where(
            Posting.unit_id.in_(names),
            Posting.start_date <= end,
            (Posting.end_date.is_(None)) | (Posting.end_date >= start),
        )
        .options(selectinload(Posting.staff))
        .order_by(Posting.start_date)
    )
    latest: dict[int, Posting] = {}
    for posting in postings:
        latest[posting.staff_pk] = posting  # ordered by start: the last one wins
    by_staff, _by_window = tallies(cands.year)
    quarter = {m for _y, m in cands.months}
    points = {row.key[0]: sum(v for m, v in row.by_month.items() if m in quarter) for row in by_staff}
    unit_order = {u.unit_id: i for i, u in enumerate(cands.units)}
    out = []
    for posting in latest.values():
        staff = posting.staff
        deductions = points.get(staff.staff_id, 0)
        out.append(
            StaffCandidate(
                staff_pk=staff.id,
                staff_id=staff.staff_id,
                name=staff.name,
                unit_id=posting.unit_id,
                unit_name=names[posting.unit_id],
                category=posting.category,
                window=posting.window,
                deductions=deductions,
            )
        )
    return sorted(
        out, key=lambda s: (unit_order[s.unit_id], s.deductions, s.category, s.window or "~", s.staff_id)
    )


# ---------------------------------------------------------------- rolls


def roll_for(kind: str, year: int, quarter: int = 0) -> HonorRoll | None:
    return db.session.scalar(
        select(HonorRoll).where(HonorRoll.kind == kind, HonorRoll.year == year, HonorRoll.quarter == quarter)
    )


def get_roll(roll_id: int) -> HonorRoll | None:
    return db.session.get(HonorRoll, roll_id)


def _entry_text(entry: HonorEntry) -> str:
    if entry.kind == "individual" and entry.staff is not None:
        window = f"·{window_label(entry.window)}" if entry.window else ""
        return f"{entry.staff.name}({entry.unit.name}{window})"
    return entry.unit.name


def window_label(window: str | None) -> str:
    if not window:
        return "后台"
    return f"{window}号窗口" if window[-1].isdigit() else window


def _snapshot(roll: HonorRoll) -> dict:
    out: dict[str, list[str]] = {}
    for entry in roll.entries:
        out.setdefault(ENTRY_TITLES[entry.kind], []).append(_entry_text(entry))
    return out


def save_selection(
    kind: str, year: int, quarter: int, unit_ids: list[int], staff_pks: list[int] | None = None
) -> HonorRoll:
    """Choose the period's roll (a draft): the units (collectives or year units) and, for a quarter, the
    individuals. Everything chosen must be a candidate; a published roll is unpublished first."""
    cands = candidates(kind, year, quarter)
    label = cands.label
    roll = roll_for(kind, year, quarter)
    if roll is not None and roll.published:
        raise DomainError(f"{label}光荣榜已发布,请先撤回再修改")
    wanted_units = list(dict.fromkeys(int(i) for i in unit_ids))
    wanted_staff = list(dict.fromkeys(int(i) for i in (staff_pks or [])))
    if kind == "year" and wanted_staff:
        raise DomainError("年度光荣榜只评选优秀窗口单位,不评选个人")
    if not wanted_units and not wanted_staff:
        raise DomainError("请至少选择一个单位或个人")
    by_unit = {u.unit_id: u for u in cands.units}
    by_staff = {s.staff_pk: s for s in cands.staff}
    if any(i not in by_unit for i in wanted_units):
        raise DomainError(f"所选单位不在{label}的候选名单中")
    if any(i not in by_staff for i in wanted_staff):
        raise DomainError(f"所选人员不是{label}候选单位的工作人员")
    before = None
    if roll is None:
        roll = HonorRoll(kind=kind, year=year, quarter=quarter, status="draft")
        db.session.add(roll)
    else:
        before = _snapshot(roll)
        roll.entries.clear()
        db.session.flush()
    unit_kind = "collective" if kind == "quarter" else "year_unit"
    position = 0
    for cand in cands.units:  # the candidates' order: by the period's scores
        if cand.unit_id in wanted_units:
            roll.entries.append(HonorEntry(kind=unit_kind, unit_id=cand.unit_id, position=position))
            position += 1
    for cand in cands.staff:
        if cand.staff_pk in wanted_staff:
            roll.entries.append(
                HonorEntry(
                    kind="individual",
                    unit_id=cand.unit_id,
                    staff_pk=cand.staff_pk,
                    window=cand.window,
                    position=position,
                )
            )
            position += 1
    roll.updated_at = utc_now()
    db.session.flush()
    db.session.refresh(roll)
    record("honor.select", f"honor:{roll.id}", before=before, after=_snapshot(roll))
    db.session.flush()
    return roll


def publish(roll_id: int) -> HonorRoll:
    """draft → published: the hall screen shows it and every honoured unit is notified."""
    from services.notifications import notify_unit

    roll = get_roll(roll_id)
    if roll is None:
        raise DomainError("光荣榜不存在")
    if roll.published:
        raise DomainError(f"{roll.label}光荣榜已经发布")
    check_period(roll.kind, roll.year, roll.quarter)
    if not roll.entries:
        raise DomainError(f"{roll.label}光荣榜还没有选定任何单位或个人")
    roll.status = "published"
    roll.published_at = utc_now()
    roll.published_by_id = acting_user_id()
    record("honor.publish", f"honor:{roll.id}", before={"status": "draft"}, after={"status": "published"})
    for unit_id, titles in _honours_by_unit(roll).items():
        notify_unit(
            unit_id,
            "honor",
            f"光荣榜:贵单位{'、'.join(titles)}",
            None,
            key=f"honor:{roll.id}:{unit_id}",
        )
    db.session.flush()
    return roll


def _honours_by_unit(roll: HonorRoll) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for entry in roll.entries:
        if entry.kind == "individual" and entry.staff is not None:
            text = f"{entry.staff.name}同志获评{roll.label}先进个人"
        elif entry.kind == "year_unit":
            text = f"获评{roll.year}年度优秀窗口单位"
        else:
            text = f"获评{roll.label}先进集体"
        out.setdefault(entry.unit_id, []).append(text)
    return out


def honours_of(roll: HonorRoll, unit_id: int) -> list[HonorEntry]:
    return [e for e in roll.entries if e.unit_id == unit_id]


def unpublish(roll_id: int, reason: str) -> HonorRoll:
    """published → draft, with a reason (audited); the hall screen stops showing it."""
    roll = get_roll(roll_id)
    if roll is None:
        raise DomainError("光荣榜不存在")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写撤回原因")
    if len(reason) > MAX_REASON:
        raise DomainError(f"撤回原因不能超过 {MAX_REASON} 个字")
    if not roll.published:
        raise DomainError(f"{roll.label}光荣榜尚未发布,无需撤回")
    roll.status = "draft"
    roll.unpublished_at = utc_now()
    roll.unpublish_reason = reason
    record(
        "honor.unpublish",
        f"honor:{roll.id}",
        before={"status": "published"},
        after={"status": "draft", "reason": reason},
    )
    db.session.flush()
    return roll


def latest_published() -> tuple[HonorRoll | None, HonorRoll | None]:
    """The latest published quarter roll and the latest published year roll (entries loaded)."""

    def latest(kind: str) -> HonorRoll | None:
        return db.session.scalar(
            select(HonorRoll)
            .where(HonorRoll.kind == kind, HonorRoll.status == "published")
            .order_by(HonorRoll.year.desc(), HonorRoll.quarter.desc())
            .limit(1)
            .options(
                selectinload(HonorRoll.entries).selectinload(HonorEntry.unit),
                selectinload(HonorRoll.entries).selectinload(HonorEntry.staff),
            )
        )

    return latest("quarter"), latest("year")


# ---------------------------------------------------------------- the admin's overview


@dataclass
class PeriodLine:
    kind: str
    year: int
    quarter: int
    label: str
    roll: HonorRoll | None
    problem: str | None  # why it cannot be chosen now

    @property
    def slug(self) -> str:
        return f"{self.year}-Q{self.quarter}" if self.kind == "quarter" else f"{self.year}"


def overview(today: date | None = None) -> tuple[list[PeriodLine], list[PeriodLine]]:
    """Quarters and years from the first assessed month to today (newest first), with their rolls."""
    today = today or hall_today()
    first = first_assessed_month()
    start = _first_month()
    statuses = {(y, m): s for y, m, s in db.session.execute(select(Month.year, Month.month, Month.status))}

    def problem(kind: str, year: int, quarter: int = 0) -> str | None:
        return _period_problem(kind, year, quarter, start, statuses)

    rolls = {(r.kind, r.year, r.quarter): r for r in db.session.scalars(select(HonorRoll))}
    quarters: list[PeriodLine] = []
    years: list[PeriodLine] = []
    if first is not None:
        for year in range(first[0], today.year + 1):
            for q in range(1, 5):
                if (year, 3 * q) < first or (year, 3 * q - 2) > (today.year, today.month):
                    continue
                quarters.append(
                    PeriodLine(
                        "quarter",
                        year,
                        q,
                        period_label("quarter", year, q),
                        rolls.get(("quarter", year, q)),
                        problem("quarter", year, q),
                    )
                )
            years.append(
                PeriodLine(
                    "year",
                    year,
                    0,
                    period_label("year", year),
                    rolls.get(("year", year, 0)),
                    problem("year", year),
                )
            )
    # A roll of a period outside that range (e.g. the first closed month reopened) is still listed.
    listed = {(p.kind, p.year, p.quarter) for p in quarters + years}
    for key, roll in rolls.items():
        if key not in listed:
            target = quarters if roll.kind == "quarter" else years
            target.append(PeriodLine(roll.kind, roll.year, roll.quarter, roll.label, roll, problem(*key)))
    quarters.sort(key=lambda p: (p.year, p.quarter), reverse=True)
    years.sort(key=lambda p: p.year, reverse=True)
    return quarters, years


def parse_period(text: str) -> tuple[str, int, int] | None:
    """ "2026-Q3" → ("quarter", 2026, 3); "2026" → ("year", 2026, 0); else None."""
    text = (text or "").strip()
    if not text.isascii():  # "²²²²" is digits to str.isdigit(), not to int()
        return None
    if len(text) == 7 and text[4:6] == "-Q" and text[:4].isdigit() and text[6] in "1234":
        return "quarter", int(text[:4]), int(text[6])
    if len(text) == 4 and text.isdigit():
        return "year", int(text), 0
    return None


# ---------------------------------------------------------------- the demo hall


def load_demo() -> dict:
    """The demo hall's rolls: the last quarter that can be chosen and the last year, chosen and published
    (the five best candidates as collectives; as individuals, the two window staff with the fewest
    deductions of each of the first four; the year's best five units). Runs after the months are closed."""
    quarters, years = overview()
    done: dict[str, str] = {}
    for line in quarters:
        if line.problem is None:
            cands = candidates("quarter", line.year, line.quarter)
            if not cands.units:
                continue
            units = [u.unit_id for u in cands.units[:5]]
            staff: list[int] = []
            for unit_id in units[:4]:
                staff += [s.staff_pk for s in cands.staff if s.unit_id == unit_id and s.category == "W"][:2]
            roll = save_selection("quarter", line.year, line.quarter, units, staff)
            publish(roll.id)
            done["quarter"] = line.label
            break
    for line in years:
        if line.problem is None:
            cands = candidates("year", line.year)
            if not cands.units:
                continue
            roll = save_selection("year", line.year, 0, [u.unit_id for u in cands.units[:5]])
            publish(roll.id)
            done["year"] = line.label
            break
    return done
