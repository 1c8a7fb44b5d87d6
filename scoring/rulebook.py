"""Rulebooks as data: TOML file or plain dict -> `Rulebook`, and back to a JSON-ready dict.

The shipped rulebook is `rulebooks/anshan-2023.toml`; published versions are stored by the app as the
dict of `rulebook_to_dict`. Every problem raises `RulebookError` with a Chinese message naming the rule
and the field, so an admin can fix the file.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library
(tomllib) and `scoring` itself.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from scoring.types import ROLE_SETTINGS, FlagCode, Rule, Rulebook, RuleKind, Settings

__all__ = [
    "ROLE_NAMES",
    "RulebookError",
    "default_rulebook_path",
    "load_rulebook",
    "parse_rulebook_toml",
    "rulebook_from_dict",
    "rulebook_from_stored",
    "rulebook_to_dict",
]

APPLIES = ("W", "C", "A")
REQUIREMENTS = ("deadline", "exempt", "linked")
FLAG_CODES = tuple(f.value for f in FlagCode)
KINDS = tuple(k.value for k in RuleKind)

_TOP_FIELDS = ("key", "title", "effective_from", "settings", "rules")
_RULE_FIELDS = tuple(f.name for f in dataclasses.fields(Rule))
_RULE_REQUIRED = tuple(
    f.name
    for f in dataclasses.fields(Rule)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_SETTINGS_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_HHMM_RE = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_TOML_LINE_RE = re.compile(r"line (\d+)")

# What each role setting means, for messages (the settings themselves are in `scoring.types.Settings`).
ROLE_NAMES = {
    "rectification_rule": "限期整改的规则",
    "overdue_rule": "逾期未整改、由评分推导的规则",
    "escalation_rule": "每月累计次数超限即通报的规则(旷工)",
    "turnover_rule": "根据人员名册检测的人员更换规则",
    "clock_in_rule": "根据打卡记录检测的打卡缺失规则",
    "inspection_rule": "迎检附加扣分、关联所附加违规记录的规则",
}


class RulebookError(ValueError):
    """A rulebook that cannot be used. The message is Chinese; `rule` and `field` say where."""

    def __init__(self, message: str, *, rule: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.field = field


def default_rulebook_path() -> Path:
    """The shipped `anshan-2023` rulebook, located relative to this package."""
    return Path(__file__).resolve().parent.parent / "rulebooks" / "anshan-2023.toml"


def load_rulebook(path: str | Path) -> Rulebook:
    """Read a TOML rulebook file. A missing file raises `OSError` as usual."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulebookError(f"规则文件 {Path(path).name} 不是 UTF-8 编码:{exc}") from exc
    return parse_rulebook_toml(text, source=Path(path).name)


def parse_rulebook_toml(text: str, source: str = "规则文件") -> Rulebook:
    """Parse TOML text (e.g. an uploaded file) into a rulebook."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE_RE.search(str(exc))
        if match is None:
            raise RulebookError(f"{source} 不是有效的 TOML:{exc}") from exc
        lineno = int(match.group(1))
        lines = text.splitlines()
        shown = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
        raise RulebookError(f"{source} 第 {lineno} 行不是有效的 TOML({exc}):{shown}") from exc
    return rulebook_from_dict(raw)


# ---------------------------------------------------------------- dict -> Rulebook


def rulebook_from_dict(d: Mapping[str, Any]) -> Rulebook:
    """Validate a plain dict (parsed TOML or `rulebook_to_dict` output) and build a `Rulebook`.

    Every role setting (`ROLE_SETTINGS`: which rule is the rectification rule, the overdue rule, …) must be
    spelled out, "" for a role no rule plays: a hall's own rulebook never inherits the 2023 codes silently.
    """
    if not isinstance(d, Mapping):
        raise RulebookError("规则手册必须是一个表(字典)")
    _check_fields(d, _TOP_FIELDS, _TOP_FIELDS, where="规则手册")
    if isinstance(d["settings"], Mapping):
        for name in ROLE_SETTINGS:
            if name not in d["settings"]:
                raise RulebookError(
                    f'设置项 settings 缺少字段 {name}({ROLE_NAMES[name]}的代码;没有这类规则时写 "")',
                    field=name,
                )
    return _build(d)


def rulebook_from_stored(d: Mapping[str, Any]) -> Rulebook:
    """A version stored by the app (`rulebook_to_dict` output), including one stored before rule roles
    existed: such data names no role, and only there each role defaults to the 2023 measures' rule
    (`Settings` defaults) when the rulebook has it."""
    if isinstance(d, Mapping) and isinstance(d.get("settings"), Mapping) and isinstance(d.get("rules"), list):
        missing = [name for name in ROLE_SETTINGS if name not in d["settings"]]
        if missing:
            codes = {r.get("code") for r in d["rules"] if isinstance(r, Mapping)}
            defaults = Settings()
            settings = dict(d["settings"])
            for name in missing:
                code = getattr(defaults, name)
                settings[name] = code if code in codes else ""
            d = {**d, "settings": settings}
    return _build(d)


def _build(d: Mapping[str, Any]) -> Rulebook:
    if not isinstance(d, Mapping):
        raise RulebookError("规则手册必须是一个表(字典)")
    _check_fields(d, _TOP_FIELDS, _TOP_FIELDS, where="规则手册")
    key = _nonempty_str(d["key"], where="规则手册", field="key")
    title = _nonempty_str(d["title"], where="规则手册", field="title")
    effective_from = _date(d["effective_from"], where="规则手册", field="effective_from")
    settings = _settings(d["settings"])
    rules_raw = d["rules"]
    if not isinstance(rules_raw, list | tuple) or not rules_raw:
        raise RulebookError("规则手册的字段 rules 必须是至少含一条规则的列表", field="rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(rules_raw, start=1):
        rule = _rule(raw, index)
        if rule.code in seen:
            raise RulebookError(f"规则 {rule.code} 的字段 code 重复", rule=rule.code, field="code")
        seen.add(rule.code)
        rules.append(rule)
    _check_derivation(rules)
    _check_roles(settings, rules)
    return Rulebook(
        key=key, title=title, effective_from=effective_from, settings=settings, rules=tuple(rules)
    )


def _check_fields(
    d: Mapping[str, Any],
    allowed: tuple[str, ...],
    required: tuple[str, ...],
    where: str,
    rule: str | None = None,
) -> None:
    for name in d:
        if name not in allowed:
            raise RulebookError(f"{where}含有未知字段 {name}", rule=rule, field=str(name))
    for name in required:
        if name not in d:
            raise RulebookError(f"{where}缺少字段 {name}", rule=rule, field=name)


def _nonempty_str(value: Any, where: str, field: str, rule: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RulebookError(f"{where}的字段 {field} 必须是非空字符串", rule=rule, field=field)
    return value


def _str(value: Any, where: str, field: str, rule: str | None = None) -> str:
    if not isinstance(value, str):
        raise RulebookError(f"{where}的字段 {field} 必须是字符串", rule=rule, field=field)
    return value


def _bool(value: Any, where: str, field: str, rule: str | None = None) -> bool:
    if not isinstance(value, bool):
        raise RulebookError(f"{where}的字段 {field} 必须是 true 或 false", rule=rule, field=field)
    return value


def _nonneg_int(value: Any, where: str, field: str, rule: str | None = None) -> int:
    # bool is an int subclass; `true` is not a number of points.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulebookError(f"{where}的字段 {field} 必须是非负整数", rule=rule, field=field)
    return value


def _date(value: Any, where: str, field: str) -> date:
    if isinstance(value, datetime):
        raise RulebookError(f"{where}的字段 {field} 必须是日期(YYYY-MM-DD),不能带时间", field=field)
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RulebookError(f"{where}的字段 {field} 必须是有效日期(YYYY-MM-DD),而不是 {value!r}", field=field)


def _str_choices(
    value: Any, choices: tuple[str, ...], where: str, field: str, rule: str | None, what: str
) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise RulebookError(f"{where}的字段 {field} 必须是列表", rule=rule, field=field)
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or item not in choices:
            raise RulebookError(
                f"{where}的字段 {field} 含有未知的{what} {item!r}(可用:{'、'.join(choices)})",
                rule=rule,
                field=field,
            )
        if item in out:
            raise RulebookError(f"{where}的字段 {field} 重复列出 {item}", rule=rule, field=field)
        out.append(item)
    return tuple(out)


def _rule(raw: Any, index: int) -> Rule:
    if not isinstance(raw, Mapping):
        raise RulebookError(f"第 {index} 条规则必须是一个表(字典)", field="rules")
    code_raw = raw.get("code")
    if not isinstance(code_raw, str) or not _CODE_RE.match(code_raw):
        if "code" not in raw:
            raise RulebookError(f"第 {index} 条规则缺少字段 code", field="code")
        raise RulebookError(
            f"第 {index} 条规则的字段 code 必须是以字母开头的规则代码(如 D02c),而不是 {code_raw!r}",
            field="code",
        )
    code = code_raw
    where = f"规则 {code} "
    _check_fields(raw, _RULE_FIELDS, _RULE_REQUIRED, where=where, rule=code)
    kind = raw["kind"]
    if kind not in KINDS:
        raise RulebookError(
            f"{where}的字段 kind 必须是 deduction 或 bonus,而不是 {kind!r}", rule=code, field="kind"
        )
    applies = raw.get("applies", "A")
    if applies not in APPLIES:
        raise RulebookError(
            f"{where}的字段 applies 必须是 W、C 或 A,而不是 {applies!r}", rule=code, field="applies"
        )
    rule = Rule(
        code=code,
        title=_nonempty_str(raw["title"], where, "title", code),
        text=_str(raw["text"], where, "text", code),
        kind=RuleKind(kind),
        points=_nonneg_int(raw["points"], where, "points", code),
        flags=_str_choices(raw.get("flags", ()), FLAG_CODES, where, "flags", code, "标记"),
        applies=applies,
        group=_str(raw.get("group", ""), where, "group", code),
        per_person=_bool(raw.get("per_person", False), where, "per_person", code),
        requires=_str_choices(raw.get("requires", ()), REQUIREMENTS, where, "requires", code, "附加字段"),
        derived=_bool(raw.get("derived", False), where, "derived", code),
        patrol=_bool(raw.get("patrol", False), where, "patrol", code),
        warning_rule=_bool(raw.get("warning_rule", False), where, "warning_rule", code),
        source=_str(raw.get("source", ""), where, "source", code),
        note=_str(raw.get("note", ""), where, "note", code),
        claimable=_bool(raw.get("claimable", False), where, "claimable", code),
    )
    if rule.claimable and rule.kind != RuleKind.BONUS:
        raise RulebookError(f"{where}不是加分项,字段 claimable 不能为 true", rule=code, field="claimable")
    if rule.derived and rule.requires:
        raise RulebookError(f"{where}由评分推导,字段 requires 必须为空", rule=code, field="requires")
    if rule.derived and rule.patrol:
        raise RulebookError(f"{where}由评分推导,字段 patrol 不能为 true", rule=code, field="patrol")
    return rule


def _check_derivation(rules: list[Rule]) -> None:
    """三(一)19: a rule with a deadline needs the one derived rule (D19b) that follows a missed deadline."""
    derived = [r for r in rules if r.derived]
    if len(derived) > 1:
        raise RulebookError(
            f"规则 {derived[1].code} 的字段 derived:只能有一条由评分推导的规则(已有 {derived[0].code})",
            rule=derived[1].code,
            field="derived",
        )
    with_deadline = [r for r in rules if "deadline" in r.requires]
    if with_deadline and not derived:
        code = with_deadline[0].code
        raise RulebookError(
            f"规则 {code} 的字段 requires 含 deadline,但规则手册没有 derived = true 的逾期规则",
            rule=code,
            field="requires",
        )


def _check_roles(settings: Settings, rules: list[Rule]) -> None:
    """Each role setting names a rule of this rulebook that can play the part, or is "" (no such rule)."""
    by_code = {r.code: r for r in rules}
    played: dict[str, str] = {}
    for name in ROLE_SETTINGS:
        code = getattr(settings, name)
        if not code:
            continue
        where = f"设置项 settings 的字段 {name}({ROLE_NAMES[name]})"
        rule = by_code.get(code)
        if rule is None:
            raise RulebookError(f"{where}指向的规则 {code} 不在规则手册中", field=name)
        if code in played:
            raise RulebookError(
                f"{where}:规则 {code} 已是 {played[code]} 的规则,一条规则只能担任一个角色", field=name
            )
        played[code] = name
        if rule.kind != RuleKind.DEDUCTION:
            raise RulebookError(f"{where}:规则 {code} 必须是扣分项", field=name)
        if name == "overdue_rule" and not rule.derived:
            raise RulebookError(f"{where}:规则 {code} 必须设 derived = true", field=name)
        if name != "overdue_rule" and rule.derived:
            raise RulebookError(f"{where}:规则 {code} 由评分推导,不能担任此角色", field=name)
        if name == "rectification_rule" and "deadline" not in rule.requires:
            raise RulebookError(f"{where}:规则 {code} 的 requires 必须含 deadline", field=name)
        if name == "inspection_rule" and "linked" not in rule.requires:
            raise RulebookError(f"{where}:规则 {code} 的 requires 必须含 linked", field=name)
    for rule in rules:
        if rule.derived and rule.code != settings.overdue_rule:
            raise RulebookError(
                f'规则 {rule.code} 的字段 derived 为 true,须在设置项中写 overdue_rule = "{rule.code}"',
                rule=rule.code,
                field="derived",
            )
        if "deadline" in rule.requires and rule.code != settings.rectification_rule:
            raise RulebookError(
                f"规则 {rule.code} 的字段 requires 含 deadline,"
                f'须在设置项中写 rectification_rule = "{rule.code}"(只能有一条限期整改的规则)',
                rule=rule.code,
                field="requires",
            )
    if bool(settings.rectification_rule) != bool(settings.overdue_rule):
        name = "overdue_rule" if settings.rectification_rule else "rectification_rule"
        raise RulebookError(
            "设置项 settings 的字段 rectification_rule 与 overdue_rule 必须同时设置或同时为空", field=name
        )


def _settings(raw: Any) -> Settings:
    if not isinstance(raw, Mapping):
        raise RulebookError("规则手册的字段 settings 必须是一个表", field="settings")
    for name in raw:
        if name not in _SETTINGS_FIELDS:
            raise RulebookError(f"设置项 settings 含有未知字段 {name}", field=str(name))
    values: dict[str, Any] = {}
    for name, f in _SETTINGS_FIELDS.items():
        if name in raw:
            values[name] = _setting_value(name, str(f.type), raw[name])
    settings = Settings(**values)
    if not settings.qualified_from <= settings.good_from <= settings.excellent_above:
        raise RulebookError(
            "设置项 qualified_from、good_from、excellent_above 必须依次不减", field="good_from"
        )
    return settings


def _setting_value(name: str, annotation: str, value: Any) -> Any:
    where = "设置项 settings "
    if annotation == "bool":
        return _bool(value, where, name)
    if annotation == "int":
        return _nonneg_int(value, where, name)
    if annotation == "str":
        if name in ROLE_SETTINGS:
            if not isinstance(value, str) or (value and not _CODE_RE.match(value)):
                raise RulebookError(
                    f'{where}的字段 {name} 必须是规则代码(如 D02c)或 ""(没有这类规则)', field=name
                )
            return value
        if name.endswith("_flag"):
            if value not in FLAG_CODES:
                raise RulebookError(
                    f"{where}的字段 {name} 必须是已知标记({'、'.join(FLAG_CODES)}),而不是 {value!r}",
                    field=name,
                )
            return value
        return _nonempty_str(value, where, name)
    if annotation == "tuple[str, str]":
        return _time_span(value, where, name)
    if annotation == "tuple[tuple[str, str], ...]":
        if not isinstance(value, list | tuple) or not value:
            raise RulebookError(f"{where}的字段 {name} 必须是时间段列表", field=name)
        return tuple(_time_span(v, where, name) for v in value)
    raise RulebookError(f"{where}的字段 {name} 的类型 {annotation} 无法读取", field=name)


def _time_span(value: Any, where: str, name: str) -> tuple[str, str]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, str) and _HHMM_RE.match(v) for v in value)
        or value[0] > value[1]
    ):
        raise RulebookError(
            f'{where}的字段 {name} 必须是 ["HH:MM", "HH:MM"] 形式的时间段(开始不晚于结束)', field=name
        )
    return (value[0], value[1])


# ---------------------------------------------------------------- Rulebook -> dict


def rulebook_to_dict(rb: Rulebook) -> dict[str, Any]:
    """A JSON-serialisable dict (ISO dates, lists for tuples) that `rulebook_from_dict` reads back."""
    return {
        "key": rb.key,
        "title": rb.title,
        "effective_from": rb.effective_from.isoformat(),
        "settings": {name: _plain(getattr(rb.settings, name)) for name in _SETTINGS_FIELDS},
        "rules": [_rule_to_dict(r) for r in rb.rules],
    }


def _rule_to_dict(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _RULE_FIELDS:
        value = getattr(rule, name)
        out[name] = value.value if isinstance(value, RuleKind) else _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
