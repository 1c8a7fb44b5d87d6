"""The lines of the detail tables (考核评分明细表) and what they are made from, for services.exports: a
year's tables of every unit are 200 sheets and a million cells, so each line is laid out once here and
written by a single call (`Sheet.put_row` on the year's streamed sheets, services.xlsx.put on a unit's own
table), and the items' incidents are read as plain rows in a few range queries.

`detail_lines` is the table's layout (its sections, subtotals, score, grade, rank and measures), shared by
the one-month table and the year's; `DetailTexts` holds its Chinese texts, translated once per export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flask_babel import gettext as _
from sqlalchemy import select

from models import Incident, Staff, db
from services.portal import ItemRow, UnitMonth
from ui import FLAG_LABELS, GRADE_LABELS

DETAIL_WIDTH = 8  # the table's columns: 序号, 规则, 事项, 日期, 窗口, 人员, 次数, 分值
WRAPPED = 2  # the 事项 column (0-based), wrapped
# The cell styles of a line of each kind, column by column (services.xlsx.STYLES).
STYLES = {
    "": ["hs-cell"] * WRAPPED + ["hs-wrap"] + ["hs-cell"] * (DETAIL_WIDTH - WRAPPED - 1),
    "section": ["hs-section"] * DETAIL_WIDTH,
    "total": ["hs-total"] * WRAPPED + ["hs-total-wrap"] + ["hs-total"] * (DETAIL_WIDTH - WRAPPED - 1),
}
# The incidents read by id ranges: a new range where the ids leave a gap wider than this.
ID_GAP = 2000


class DetailTexts:
    """The detail table's texts in the request's language, each translated once (a year's export of a
    large hall lays out 2,400 tables; gettext is a tenth of the time there)."""

    def __init__(self) -> None:
        self.none = _("无")
        self.absent = _("本单位该月未参加考核(单位已停用)")
        self.deductions, self.bonuses = _("一、扣分项目"), _("二、加分项目")
        self.deducted, self.floored = _("扣分小计"), _("扣完为止")
        self.bonus, self.capped = _("加分小计"), _("每月加分不超过 %(cap)d 分")
        self.base, self.score, self.grade = _("基础分"), _("得分"), _("等级")
        self.rank, self.rank_of = _("排名"), _("第 %(rank)d 名 / 共 %(total)d 个单位")
        self.measures = _("处理措施")
        self.derived, self.exempt = _("%(title)s(逾期未整改,系统计算)"), _("%(title)s(免扣)")
        self.grades = {str(key): str(label) for key, label in GRADE_LABELS.items()}
        self.flags = {key: str(label) for key, label in FLAG_LABELS.items()}

    def grade_label(self, grade) -> str:
        key = str(grade)
        return self.grades.get(key, key)

    def flags_label(self, codes: Iterable[str]) -> str:
        return "、".join(str(self.flags.get(f, f)) for f in codes)


def item_cells(n: int, item: ItemRow, texts: DetailTexts) -> list:
    """One item's line: 序号, 规则, 事项 (with its public text), 日期, 窗口, 人员, 次数, 分值."""
    what = item.title
    if item.derived:
        what = texts.derived % {"title": item.title}
    elif item.exempt:
        what = texts.exempt % {"title": item.title}
    if item.public_text:
        what = f"{what}\n{item.public_text}"
    return [
        n,
        item.rule_code,
        what,
        item.occurred_on,
        item.window or "",
        item.staff_name or "",
        item.count,
        item.points,
    ]


def detail_lines(view: UnitMonth, texts: DetailTexts) -> Iterator[tuple[str, list, bool]]:
    """(kind, the 8 values, merged) of each line of the unit's month: kind "section" (a heading, merged
    across the table on a unit's own sheet), "" (an item) or "total" (a label, a note and a value: merged
    label and note on a unit's own sheet)."""
    blank = [""] * (DETAIL_WIDTH - 1)
    result = view.result
    if result is None:
        yield "section", [texts.absent, *blank], True
        return
    settings = view.rulebook.settings

    def section(heading: str, items: tuple[ItemRow, ...]) -> Iterator[tuple[str, list, bool]]:
        yield "section", [heading, *blank], True
        if not items:
            yield "", ["", "", texts.none, "", "", "", "", ""], False
        for n, item in enumerate(items, start=1):
            yield "", item_cells(n, item, texts), False

    def total(label: str, value, note: str = "") -> tuple[str, list, bool]:
        return "total", [label, "", note, "", "", "", "", value], True

    yield from section(texts.deductions, view.deduction_items)
    yield total(
        texts.deducted, -result.deductions, texts.floored if result.deductions > settings.base_score else ""
    )
    yield from section(texts.bonuses, view.bonus_items)
    yield total(
        texts.bonus, result.bonus, texts.capped % {"cap": settings.bonus_cap} if view.bonus_capped else ""
    )
    yield total(texts.base, settings.base_score)
    yield total(texts.score, result.score)
    yield total(texts.grade, texts.grade_label(result.grade))
    yield total(texts.rank, result.rank, texts.rank_of % {"rank": result.rank, "total": view.total_units})
    if result.flags:
        yield total(texts.measures, "", texts.flags_label(result.flag_codes))


def write_year_detail(sheet, row: int, view: UnitMonth, lead: str, texts: DetailTexts) -> int:
    """A unit's month on its year sheet (a services.xlsx_stream sheet) from `row`, every line led by the
    month (`lead`) and nothing merged; returns the next row."""
    put_row = sheet.put_row
    styles = {kind: [names[0], *names] for kind, names in STYLES.items()}  # the month takes the line's style
    for kind, values, _merged in detail_lines(view, texts):
        put_row(row, [lead, *values], styles[kind])
        row += 1
    return row


def incident_details(ids: Iterable[int]) -> tuple[dict[int, object], dict[int, object]]:
    """The items' incidents (id, staff_pk, occurred_at, window, public_text: what services.portal.item_rows
    reads) and their staff (id, name), as plain rows by id: read by ranges of ids rather than lists of
    them (an IN list of 100,000 ids is compiled parameter by parameter)."""
    wanted = sorted(set(ids))
    incidents: dict[int, object] = {}
    columns = (Incident.id, Incident.staff_pk, Incident.occurred_at, Incident.window, Incident.public_text)
    for low, high in _ranges(wanted):
        query = select(*columns).where(Incident.id >= low, Incident.id <= high)
        incidents.update((r.id, r) for r in db.session.execute(query))
    keep = set(wanted)
    incidents = {pk: r for pk, r in incidents.items() if pk in keep}
    staff_ids = sorted({r.staff_pk for r in incidents.values() if r.staff_pk})
    staff: dict[int, object] = {}
    for low, high in _ranges(staff_ids):
        query = select(Staff.id, Staff.name).where(Staff.id >= low, Staff.id <= high)
        staff.update((r.id, r) for r in db.session.execute(query))
    return incidents, staff


def _ranges(ids: list[int]) -> Iterator[tuple[int, int]]:
    """The sorted `ids` as (low, high) ranges, a new one where they leave a gap wider than ID_GAP."""
    if not ids:
        return
    low = previous = ids[0]
    for pk in ids[1:]:
        if pk - previous > ID_GAP:
            yield low, previous
            low = pk
        previous = pk
    yield low, previous
