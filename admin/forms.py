"""The admin pages' forms: one WTForms class per form, Chinese labels and messages through lazy_gettext.

Field checks that need the database (a unique code) live here; domain rules live in the services and come
back as DomainError, which the views turn into a form error.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from models import Role, Staff, Unit, db
from scoring import ROLE_SETTINGS, Rulebook, Settings, parse_month
from security import row_id
from services.calendar_admin import normalize_windows, unit_by_code
from services.memo import database_key, newest_change, remember
from services.rulebooks import by_key, effective_day_problem
from services.users import MIN_PASSWORD, by_username
from ui import FLAG_LABELS, ROLE_LABELS

CATEGORY_CHOICES = [("W", _l("W 值守窗口工作人员")), ("C", _l("C 纳入综窗的后场工作人员"))]
IMPORT_KINDS = [
    ("units", _l("单位")),
    ("staff", _l("人员名册")),
    ("incidents", _l("扣加分记录(纸质巡查表)")),
    ("clock", _l("打卡记录")),
    ("calendar", _l("工作日历")),
]
TIME_SPAN_RE = re.compile(r"^\s*([0-2]\d:[0-5]\d)\s*[-–~至]\s*([0-2]\d:[0-5]\d)\s*$")

# Chinese names of the rulebook's settings, shared by the rulebook page and the new-version form.
SETTING_LABELS = {
    "base_score": _l("基础分"),
    "bonus_cap": _l("每月加分上限"),
    "excellent_above": _l("优秀:得分高于"),
    "good_from": _l("良好:得分不低于"),
    "qualified_from": _l("合格:得分不低于"),
    "replace_staff_min_unqualified": _l("同一年度不合格月数达到此数,要求更换相关人员"),
    "d02c_escalation_above": _l("每月旷工次数超过此数,书面通报"),
    "d02c_escalation_flag": _l("旷工超限时的标记"),
    "d13_week_above": _l("每周更换人员超过此数,计一次人员更换扣分"),
    "d13_month_above": _l("每月更换人员超过此数,计一次人员更换扣分"),
    "clock_in_morning": _l("综窗后场上午打卡时段"),
    "clock_in_evening": _l("综窗后场下午打卡时段"),
    "hall_hours": _l("窗口值守时间"),
    "appeal_working_days": _l("申诉期限(工作日)"),
    "rectification_extension_allowed": _l("允许单位申请延长整改期限(延期)"),
    "notice_answer_working_days": _l("书面通报的反馈期限(工作日)"),
    "unqualified_flag": _l("不合格月份的标记"),
    "rectification_rule": _l("限期整改的规则"),
    "overdue_rule": _l("逾期未整改、系统计算的规则"),
    "escalation_rule": _l("每月累计超限即通报的规则(旷工)"),
    "turnover_rule": _l("根据人员名册检测的人员更换规则"),
    "clock_in_rule": _l("根据打卡记录检测的打卡缺失规则"),
    "inspection_rule": _l("迎检附加扣分的规则"),
}
# The settings that belong to a rule role: their label names the rule of the rulebook at hand.
SETTING_ROLES = {
    "d02c_escalation_above": "escalation_rule",
    "d02c_escalation_flag": "escalation_rule",
    "d13_week_above": "turnover_rule",
    "d13_month_above": "turnover_rule",
    "clock_in_morning": "clock_in_rule",
    "clock_in_evening": "clock_in_rule",
}
# The settings the new-version form edits; the rule roles are copied from the base (its codes stay).
EDITABLE_SETTINGS = tuple(name for name in Settings.__dataclass_fields__ if name not in ROLE_SETTINGS)


def setting_label(name: str, rulebook: Rulebook) -> str:
    """A setting's Chinese name, with the code of the rule it concerns in this rulebook, e.g. "(D02c)"."""
    label = str(SETTING_LABELS.get(name, name))
    role = SETTING_ROLES.get(name)
    code = rulebook.role_code(role) if role else None
    return f"{label}({code})" if code else label


# The units' choices, kept until the next audited change (units are changed only through audited services):
# many forms list every unit, and reading 200 rows on SQLite under 16 threads cost more than the page.
_unit_choices: dict[tuple, list[tuple[int, str]]] = {}


def unit_choices(blank: str | None = None, active_only: bool = False) -> list[tuple[int, str]]:
    def read() -> list[tuple[int, str]]:
        query = select(Unit.id, Unit.code, Unit.name).order_by(Unit.display_order, Unit.code)
        if active_only:
            query = query.where(Unit.active.is_(True))
        return [(unit_id, f"{code} {name}") for unit_id, code, name in db.session.execute(query)]

    choices = remember(_unit_choices, (database_key(), active_only, newest_change()), read, most=8)
    return ([(0, blank)] if blank is not None else []) + list(choices)


class ActionForm(FlaskForm):
    """A button that changes something (close, publish, confirm): only its CSRF token."""


# ---------------------------------------------------------------- units, staff, calendar


class UnitForm(FlaskForm):
    code = StringField(
        _l("单位编码"),
        validators=[
            DataRequired(message=_l("请填写单位编码")),
            Length(max=32, message=_l("单位编码不能超过 32 个字符")),
        ],
    )
    name = StringField(
        _l("单位名称"),
        validators=[
            DataRequired(message=_l("请填写单位名称")),
            Length(max=120, message=_l("单位名称不能超过 120 个字符")),
        ],
    )
    windows = StringField(
        _l("窗口号"), validators=[Optional()], description=_l("多个窗口用“;”或“、”分隔,如 1;2;3")
    )
    display_order = IntegerField(
        _l("显示顺序"),
        default=0,
        validators=[
            InputRequired(message=_l("请填写显示顺序(整数)")),
            NumberRange(min=0, max=9999, message=_l("显示顺序须为 0 至 9999 的整数")),
        ],
    )
    active = BooleanField(_l("参加考核(启用)"), default=True)

    def __init__(self, *args, unit: Unit | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit = unit

    def validate_code(self, field):
        other = unit_by_code(field.data or "")
        if other is not None and other is not self.unit:
            raise ValidationError(_l("单位编码已被使用:%(name)s", name=other.name))

    def validate(self, extra_validators=None) -> bool:
        """The field checks, then the unit rules the units import also applies (services.units)."""
        from services.units import unit_problems

        valid = super().validate(extra_validators)
        fields = {
            "code": self.code,
            "name": self.name,
            "windows": self.windows,
            "display_order": self.display_order,
        }
        problems = unit_problems(
            self.unit,
            code=self.code.data,
            name=self.name.data,
            windows=self.windows.data,
            display_order=self.display_order.data,
        )
        for name, message in problems:
            field = fields[name]
            if not field.errors:  # a field already refused is not refused twice
                field.errors = [*field.errors, message]
                valid = False
        if valid:
            self.windows.data = normalize_windows(self.windows.data)
        return valid


class StaffForm(FlaskForm):
    staff_id = StringField(
        _l("工号"),
        validators=[
            DataRequired(message=_l("请填写工号")),
            Length(max=32, message=_l("工号不能超过 32 个字符")),
        ],
    )
    name = StringField(
        _l("姓名"),
        validators=[
            DataRequired(message=_l("请填写姓名")),
            Length(max=60, message=_l("姓名不能超过 60 个字符")),
        ],
    )
    unit_id = SelectField(_l("单位"), coerce=int, validators=[NumberRange(min=1, message=_l("请选择单位"))])
    category = SelectField(_l("人员类别"), choices=CATEGORY_CHOICES)
    window = StringField(
        _l("窗口号"), validators=[Optional(), Length(max=20)], description=_l("综窗后场人员可不填")
    )
    start_date = DateField(_l("到岗日期"), validators=[InputRequired(message=_l("请填写到岗日期"))])

    def validate_staff_id(self, field):
        if db.session.scalar(select(Staff).where(Staff.staff_id == (field.data or "").strip())):
            raise ValidationError(_l("该工号已存在"))


class StaffMoveForm(FlaskForm):
    unit_id = SelectField(
        _l("调往单位"), coerce=int, validators=[NumberRange(min=1, message=_l("请选择单位"))]
    )
    category = SelectField(_l("人员类别"), choices=CATEGORY_CHOICES)
    window = StringField(_l("窗口号"), validators=[Optional(), Length(max=20)])
    from_date = DateField(
        _l("调岗日期(新岗位第一天)"), validators=[InputRequired(message=_l("请填写调岗日期"))]
    )


class StaffEndForm(FlaskForm):
    end_date = DateField(_l("离岗日期(最后一天)"), validators=[InputRequired(message=_l("请填写离岗日期"))])


class LeaveForm(FlaskForm):
    start_date = DateField(_l("请假开始日期"), validators=[InputRequired(message=_l("请填写开始日期"))])
    end_date = DateField(_l("请假结束日期"), validators=[InputRequired(message=_l("请填写结束日期"))])
    note = StringField(
        _l("备注"), validators=[Optional(), Length(max=200, message=_l("备注不能超过 200 个字符"))]
    )


def hall_years(form, field) -> None:
    """A typed date or time within 2000..2100 (the years the hall's pickers offer): 0001-01-01 00:00 in hall
    time is before the first day a datetime holds in UTC, and the day after 9999-12-31 does not exist, so
    such a date would be an error on its way to the database rather than a message."""
    if field.data is not None and not 2000 <= field.data.year <= 2100:
        raise ValidationError(_l("请填写 2000 年至 2100 年之间的日期"))


class OutageForm(FlaskForm):
    start_at = DateTimeLocalField(
        _l("故障开始时间"),
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(message=_l("请填写开始时间")), hall_years],
    )
    end_at = DateTimeLocalField(
        _l("故障结束时间"),
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(message=_l("请填写结束时间")), hall_years],
    )
    note = StringField(
        _l("说明"), validators=[Optional(), Length(max=200, message=_l("说明不能超过 200 个字符"))]
    )


class CalendarDayForm(FlaskForm):
    note = StringField(
        _l("备注"), validators=[Optional(), Length(max=100, message=_l("备注不能超过 100 个字符"))]
    )


# ---------------------------------------------------------------- months and detections


class ReopenForm(FlaskForm):
    reason = TextAreaField(
        _l("重新开放的原因"),
        validators=[
            DataRequired(message=_l("请填写重新开放的原因")),
            Length(max=500, message=_l("原因不能超过 500 个字符")),
        ],
    )


class MonthField(StringField):
    """A "YYYY-MM" month; its data becomes (year, month)."""

    def pre_validate(self, form):
        try:
            self.month = parse_month(self.data or "")
        except ValueError as error:
            raise ValidationError(_l("月份格式应为 YYYY-MM(如 2024-03)")) from error


class DetectionRunForm(FlaskForm):
    month = MonthField(_l("月份"))


class DismissForm(FlaskForm):
    reason = StringField(
        _l("驳回原因"), validators=[Optional(), Length(max=200, message=_l("原因不能超过 200 个字符"))]
    )


class DetectionBulkForm(FlaskForm):
    ids = SelectMultipleField(
        _l("选中的记录"),
        coerce=row_id,  # an id beyond any id column is a form error, not a database error
        validate_choice=False,
        validators=[DataRequired(message=_l("请先勾选要处理的记录"))],
    )
    action = SelectField(_l("操作"), choices=[("confirm", _l("确认")), ("dismiss", _l("驳回"))])
    reason = StringField(
        _l("驳回原因"), validators=[Optional(), Length(max=200, message=_l("原因不能超过 200 个字符"))]
    )


# ---------------------------------------------------------------- imports


class ImportForm(FlaskForm):
    kind = SelectField(_l("导入内容"), choices=IMPORT_KINDS)
    file = FileField(_l("文件(.csv 或 .xlsx)"), validators=[FileRequired(message=_l("请选择要导入的文件"))])

    def validate_file(self, field):
        name = (field.data.filename or "").lower() if field.data else ""
        if not name.endswith((".csv", ".xlsx")):
            raise ValidationError(_l("只能导入 .csv 或 .xlsx 文件"))


# ---------------------------------------------------------------- users


def role_choices() -> list[tuple[str, str]]:
    return [(r.value, ROLE_LABELS[r.value]) for r in Role]


class UserNewForm(FlaskForm):
    username = StringField(
        _l("用户名"),
        validators=[
            DataRequired(message=_l("请填写用户名")),
            Regexp(r"^[A-Za-z0-9_.@-]{2,64}$", message=_l("用户名须为 2 至 64 位字母、数字或 _ . @ -")),
        ],
    )
    display_name = StringField(
        _l("显示名称"), validators=[Optional(), Length(max=60, message=_l("不能超过 60 个字符"))]
    )
    role = SelectField(_l("角色"), choices=role_choices)
    unit_id = SelectField(_l("所属单位(仅单位用户)"), coerce=int)
    password = PasswordField(
        _l("初始密码"),
        validators=[
            DataRequired(message=_l("请填写密码")),
            Length(min=MIN_PASSWORD, message=_l("密码至少 %(n)d 位", n=MIN_PASSWORD)),
        ],
    )

    def validate_username(self, field):
        if by_username(field.data or ""):
            raise ValidationError(_l("该用户名已存在"))


class UserEditForm(FlaskForm):
    display_name = StringField(
        _l("显示名称"), validators=[Optional(), Length(max=60, message=_l("不能超过 60 个字符"))]
    )
    role = SelectField(_l("角色"), choices=role_choices)
    unit_id = SelectField(_l("所属单位(仅单位用户)"), coerce=int)
    active = BooleanField(_l("启用"))


class UserPasswordForm(FlaskForm):
    password = PasswordField(
        _l("新密码"),
        validators=[
            DataRequired(message=_l("请填写新密码")),
            Length(min=MIN_PASSWORD, message=_l("密码至少 %(n)d 位", n=MIN_PASSWORD)),
        ],
    )
    confirm = PasswordField(
        _l("再次输入新密码"), validators=[EqualTo("password", message=_l("两次输入的密码不一致"))]
    )


# ---------------------------------------------------------------- audit log


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    action = SelectField(_l("操作"), validators=[Optional()], validate_choice=False)
    user = SelectField(_l("操作人"), validators=[Optional()], coerce=row_id, validate_choice=False)
    target = StringField(_l("对象"), validators=[Optional(), Length(max=80)])
    date_from = DateField(_l("起始日期"), validators=[Optional(), hall_years])
    date_to = DateField(_l("截止日期"), validators=[Optional(), hall_years])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("截止日期不能早于起始日期"))


# ---------------------------------------------------------------- rulebooks


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        # WTForms' own message for this case has no Chinese translation.
        allowed = {value for value, _label in self.choices}
        unknown = [str(v) for v in self.data or [] if v not in allowed]
        if unknown:
            raise ValidationError(_l("不是有效的选择:%(values)s", values="、".join(unknown)))


def _span_text(span) -> str:
    return f"{span[0]}-{span[1]}"


def setting_text(name: str, value) -> str:
    """A setting as the form (and the rulebook page) writes it: "08:25-08:30", "08:30-11:30;13:00-17:00"."""
    if name == "hall_hours":
        return ";".join(_span_text(s) for s in value)
    if isinstance(value, bool):
        return str(_l("是") if value else _l("否"))
    if isinstance(value, list | tuple):
        return _span_text(value)
    return str(value)


def _parse_span(text: str) -> list[str]:
    match = TIME_SPAN_RE.match(text or "")
    if not match:
        raise ValueError(text)
    return [match.group(1), match.group(2)]


class RulebookBaseForm(FlaskForm):
    key = StringField(
        _l("新版本号"),
        validators=[
            DataRequired(message=_l("请填写版本号")),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$",
                message=_l("版本号只能用字母、数字和 . _ -,如 anshan-2025"),
            ),
        ],
    )
    title = StringField(
        _l("标题"),
        validators=[
            DataRequired(message=_l("请填写标题")),
            Length(max=200, message=_l("标题不能超过 200 个字符")),
        ],
    )
    effective_from = DateField(_l("生效日期"), validators=[InputRequired(message=_l("请填写生效日期"))])

    rulebook: Rulebook

    def validate_key(self, field):
        if by_key((field.data or "").strip()):
            raise ValidationError(_l("该版本号已存在"))

    def validate_effective_from(self, field):
        # The same rule `publish_version` enforces: the first day of a month after the current one.
        problem = effective_day_problem(field.data) if field.data else None
        if problem:
            raise ValidationError(problem)

    def rule_fields(self, rule_code: str):
        return self[f"points_{rule_code}"], self[f"flags_{rule_code}"]

    def setting_fields(self):
        return [self[f"setting_{name}"] for name in EDITABLE_SETTINGS]

    def to_dict(self, base: dict) -> dict:
        """The new version's full dict from the base version's (`rulebook_to_dict` of it): key, title, date,
        points, flags, settings; the rule roles stay the base's."""
        data = {
            **base,
            "key": self.key.data.strip(),
            "title": self.title.data.strip(),
            "effective_from": self.effective_from.data.isoformat(),
        }
        rules = []
        for rule in base["rules"]:
            points, flags = self.rule_fields(rule["code"])
            rules.append({**rule, "points": points.data, "flags": list(flags.data or [])})
        data["rules"] = rules
        settings = dict(base["settings"])
        for name, f in Settings.__dataclass_fields__.items():
            if name not in EDITABLE_SETTINGS:
                continue
            field = self[f"setting_{name}"]
            if str(f.type) == "int":
                settings[name] = field.data
            elif str(f.type) == "bool":
                settings[name] = bool(field.data)
            elif name == "hall_hours":
                settings[name] = [
                    _parse_span(part) for part in re.split(r"[;;,,]", field.data or "") if part.strip()
                ]
            elif str(f.type) == "tuple[str, str]":
                settings[name] = _parse_span(field.data)
            else:
                settings[name] = field.data
        data["settings"] = settings
        return data


def _span_validator(several: bool):
    def check(form, field):
        parts = [p for p in re.split(r"[;;,,]", field.data or "") if p.strip()] if several else [field.data]
        if not parts:
            raise ValidationError(_l("请填写时间段,如 08:25-08:30"))
        for part in parts:
            try:
                start, end = _parse_span(part)
            except ValueError as error:
                raise ValidationError(_l("时间段格式应为 HH:MM-HH:MM,如 08:25-08:30")) from error
            if start > end or start > "23:59" or end > "23:59":
                raise ValidationError(_l("时间段的开始不能晚于结束"))

    return check


def rulebook_form_class(rulebook: Rulebook) -> type[RulebookBaseForm]:
    """The new-version form for a base rulebook: a points box and flag boxes per rule, a box per setting."""

    class RulebookNewForm(RulebookBaseForm):
        pass

    flag_choices = [(code, label) for code, label in FLAG_LABELS.items()]
    for rule in rulebook.rules:
        setattr(
            RulebookNewForm,
            f"points_{rule.code}",
            IntegerField(
                _l("分值"),
                default=rule.points,
                validators=[
                    InputRequired(message=_l("请填写分值")),
                    NumberRange(min=0, max=100, message=_l("分值须为 0 至 100 的整数")),
                ],
            ),
        )
        setattr(
            RulebookNewForm,
            f"flags_{rule.code}",
            MultiCheckboxField(_l("标记"), choices=flag_choices, default=list(rule.flags)),
        )
    for name, f in Settings.__dataclass_fields__.items():
        if name not in EDITABLE_SETTINGS:
            continue
        label = setting_label(name, rulebook)
        value = getattr(rulebook.settings, name)
        kind = str(f.type)
        if kind == "int":
            field = IntegerField(
                label,
                default=value,
                validators=[
                    InputRequired(message=_l("请填写整数")),
                    NumberRange(min=0, max=1000, message=_l("须为 0 至 1000 的整数")),
                ],
            )
        elif kind == "bool":
            field = BooleanField(label, default=value)
        elif name.endswith("_flag"):
            field = SelectField(label, choices=flag_choices, default=value)
        else:
            field = StringField(
                label, default=setting_text(name, value), validators=[_span_validator(name == "hall_hours")]
            )
        setattr(RulebookNewForm, f"setting_{name}", field)
    RulebookNewForm.rulebook = rulebook
    return RulebookNewForm
