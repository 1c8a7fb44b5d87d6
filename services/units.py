"""The rules a unit's fields keep, in one place: the unit form, `save_unit` and the units import all call
`unit_problems`, so a file cannot bring in a unit the form would refuse to save (and the other way round).
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from models import Posting, Unit, db, split_windows
from services import DomainError

WINDOW_RE = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff-]{1,10}$")
MAX_CODE = 32
MAX_NAME = 120
MAX_ORDER = 9999


def _t(message: str, **values) -> str:
    """Chinese message, translated when a request has a locale (the CLI and jobs have none)."""
    try:
        from flask import has_request_context
        from flask_babel import gettext

        if has_request_context():
            return gettext(message, **values)
    except (ImportError, RuntimeError, KeyError):
        pass
    return message % values if values else message


def window_problems(text: str | None) -> tuple[list[str], list[str]]:
    """The windows of "1、2、3" or "1;2;3", and what is wrong with them (Chinese)."""
    windows = split_windows(text)
    problems: list[str] = []
    bad = [w for w in windows if not WINDOW_RE.match(w)]
    for w in bad:
        problems.append(_t("窗口号 %(w)s 无效:只能是不超过 10 位的数字、字母或汉字", w=w))
    repeated = sorted({w for w in windows if windows.count(w) > 1})
    if repeated:
        problems.append(_t("窗口号 %(w)s 重复", w="、".join(repeated)))
    if len(";".join(windows)) > 400:
        problems.append(_t("窗口列表过长"))
    return windows, problems


def normalize_windows(text: str | None) -> str:
    """ "1、2、3" or "1;2;3" -> "1;2;3"; a bad or repeated window number raises DomainError."""
    windows, problems = window_problems(text)
    if problems:
        raise DomainError(problems[0])
    return ";".join(windows)


def staffed_windows(unit: Unit, windows: list[str], today: date) -> list[str]:
    """Which of `windows` of the unit someone holds today or later (they cannot be removed)."""
    if not windows or unit.id is None:
        return []
    rows = db.session.scalars(
        select(Posting.window).where(
            Posting.unit_id == unit.id,
            Posting.window.in_(windows),
            (Posting.end_date.is_(None)) | (Posting.end_date >= today),
        )
    )
    return sorted(set(rows))


def unit_problems(
    unit: Unit | None,
    *,
    code: str | None,
    name: str | None,
    windows: str | None,
    display_order: int | None,
    today: date | None = None,
) -> list[tuple[str, str]]:
    """What is wrong with a unit's fields, as (field, Chinese message) pairs; `unit` is the unit being
    changed (None for a new one). The code stays unique; a window someone still holds stays."""
    from services.clock import hall_today

    problems: list[tuple[str, str]] = []
    code, name = (code or "").strip(), (name or "").strip()
    if not code:
        problems.append(("code", _t("请填写单位编码")))
    elif len(code) > MAX_CODE:
        problems.append(("code", _t("单位编码不能超过 32 个字符")))
    elif re.search(r"\s", code):
        problems.append(("code", _t("单位编码不能包含空格")))
    else:
        other = db.session.scalar(select(Unit).where(Unit.code == code))
        if other is not None and other is not unit:
            problems.append(("code", _t("单位编码 %(code)s 已被%(name)s使用", code=code, name=other.name)))
    if not name:
        problems.append(("name", _t("请填写单位名称")))
    elif len(name) > MAX_NAME:
        problems.append(("name", _t("单位名称不能超过 120 个字符")))
    window_list, window_errors = window_problems(windows)
    problems += [("windows", message) for message in window_errors]
    if unit is not None and not window_errors:
        removed = [w for w in unit.window_list if w not in window_list]
        busy = staffed_windows(unit, removed, today or hall_today())
        if busy:
            problems.append(
                (
                    "windows",
                    _t(
                        "窗口 %(w)s 仍有在岗人员,不能从%(name)s删除;请先调整人员岗位",
                        w="、".join(busy),
                        name=unit.name,
                    ),
                )
            )
    if display_order is None or not 0 <= display_order <= MAX_ORDER:
        problems.append(("display_order", _t("显示顺序须为 0 至 9999 的整数")))
    return problems


def check_unit(unit: Unit | None, **fields) -> None:
    """`unit_problems`, raised as one DomainError."""
    problems = unit_problems(unit, **fields)
    if problems:
        raise DomainError(";".join(message for _, message in problems))
