"""Warnings (提醒/警告): no points, but the rules that depend on earlier warnings (D04b, D05b) read them.

The desk form's "只记提醒" writes one here; a warning is dated like an incident (services.bounds: not in
the future, not before the first rulebook, not in a closed month), and a refused one writes nothing.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from models import Unit, Warning, db
from services.audit import acting_user_id, record
from services.clock import to_hall
from services.incidents import Choices, Draft, FieldProblems, day_problem


def recent(unit: Unit, rule_code: str, staff_pk: int | None = None, limit: int = 20) -> list[Warning]:
    """The unit's latest warnings under a rule (for a staff member: theirs and the unit's), newest first."""
    query = select(Warning).where(Warning.unit_id == unit.id, Warning.rule_code == rule_code)
    if staff_pk:
        query = query.where((Warning.staff_pk == staff_pk) | (Warning.staff_pk.is_(None)))
    return list(db.session.scalars(query.order_by(Warning.given_at.desc(), Warning.id.desc()).limit(limit)))


def problems(draft: Draft, offered: Choices) -> list[tuple[str, str]]:
    """What is wrong with giving a warning from the desk form, as (form field, Chinese message) pairs."""
    found: list[tuple[str, str]] = []
    unit, rule = draft.unit, offered.rule
    if unit is None:
        found.append(("unit_id", _("所选单位不存在或已停用") if draft.unit_given else _("请选择单位")))
    if rule is None or not rule.warning_rule:
        found.append(("rule_code", _("只有“提醒后仍不改正”一类的规则(如 D04b、D05b)可以只记提醒")))
    if draft.staff_pk and str(draft.staff_pk) not in {str(s.id) for s, _p in offered.staff}:
        found.append(("staff_pk", _("该人员在发生日期不在所选单位")))
    if draft.window and unit and draft.window not in unit.window_list:
        found.append(("window", _("窗口 %(window)s 不属于%(name)s", window=draft.window, name=unit.name)))
    problem = day_problem(draft.occurred)
    if problem:
        found.append(("occurred_at", problem))
    return found


def give(draft: Draft, offered: Choices) -> Warning:
    """Record a warning typed on the desk form (with its audit row); FieldProblems and nothing written if
    anything is wrong."""
    found = problems(draft, offered)
    if found or offered.occurred_at is None or draft.unit is None or offered.rule is None:
        raise FieldProblems(found or [("occurred_at", _("请填写发生时间"))])
    staff = {str(s.id): s for s, _p in offered.staff}.get(str(draft.staff_pk)) if draft.staff_pk else None
    warning = Warning(
        unit=draft.unit,
        staff=staff,
        window=draft.window or None,
        rule_code=offered.rule.code,
        given_at=offered.occurred_at,
        given_by_id=acting_user_id(),
        text=(draft.public_text or draft.note or "").strip(),
    )
    db.session.add(warning)
    db.session.flush()
    record(
        "warning.create",
        f"warning:{warning.id}",
        after={
            "unit": draft.unit.code,
            "rule_code": warning.rule_code,
            "staff": staff.staff_id if staff else None,
            "window": warning.window,
            "given_at": to_hall(warning.given_at).strftime("%Y-%m-%d %H:%M"),
            "text": warning.text,
        },
    )
    return warning
