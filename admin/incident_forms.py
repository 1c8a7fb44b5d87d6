"""Forms of incident logging: the desk form, correcting, voiding, adding evidence, the list's filters,
a patrol tap. Choices that depend on the database are set by the views; messages are Chinese.

Select fields take any submitted value (`validate_choice=False`) and the views check it against the
database, so an unknown unit or rule gets a clear Chinese message rather than WTForms' generic one.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from security import MAX_ID

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
EVIDENCE_ACCEPT = "image/jpeg,image/png,image/heic,image/heif,.jpg,.jpeg,.png,.heic,.heif"


class HallDateTimeField(DateTimeLocalField):
    """datetime-local in hall time, with a Chinese message for text that is not a date and time."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(str(_l("请填写正确的日期和时间,如 2024-03-20 09:30"))) from error


class DayField(DateField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(str(_l("请填写正确的日期,如 2024-03-20"))) from error


class WholeNumberField(IntegerField):
    """An integer, counts and ids alike: one beyond any id column (±2^31-1) is a form error, not a database
    error when it is looked up (SQLite and PostgreSQL both raise on 99999999999999999999)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(str(_l("请填写整数"))) from error
        if self.data is not None and not -MAX_ID <= self.data <= MAX_ID:
            self.data = None
            raise ValueError(str(_l("数字超出范围")))


class PageNumberField(IntegerField):
    """A page number: one beyond any page is the page past the last (the list says so and links back), not a
    form error; only what is not a whole number is."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(str(_l("请填写整数"))) from error
        if self.data is not None and self.data > MAX_ID:
            self.data = MAX_ID


def _select(label, **kwargs) -> SelectField:
    return SelectField(label, choices=[], validate_choice=False, **kwargs)


class IncidentFieldsMixin:
    """The fields an incident has after its unit: shared by the desk form and the correction form."""

    occurred_at = HallDateTimeField(
        _l("发生时间"),
        format=DATETIME_FORMATS,
        validators=[InputRequired(message=_l("请填写发生时间"))],
    )
    rule_code = _select(_l("考核规则"))
    window = _select(_l("窗口"))
    staff_pk = _select(_l("工作人员"))
    count = WholeNumberField(
        _l("次数"),
        default=1,
        validators=[
            InputRequired(message=_l("请填写次数")),
            NumberRange(min=1, max=99, message=_l("次数(人数)必须是 1 到 99 之间的整数")),
        ],
    )
    exempt = BooleanField(_l("评价器或网络故障,不扣分(免扣)"))
    deadline = DayField(_l("整改期限"), validators=[Optional()])
    rectified_on = DayField(_l("整改完成日期"), validators=[Optional()])
    linked_id = _select(_l("所加扣的违规记录"))
    note = TextAreaField(
        _l("内部备注(仅管理人员可见)"), validators=[Length(max=2000, message=_l("备注不能超过 2000 字"))]
    )
    public_text = TextAreaField(
        _l("通知单说明(印在通知单上,单位可见)"),
        validators=[Length(max=2000, message=_l("说明不能超过 2000 字"))],
    )


class IncidentForm(IncidentFieldsMixin, FlaskForm):
    unit_id = _select(_l("单位"))
    evidence = MultipleFileField(_l("证据照片"))


class CorrectForm(IncidentFieldsMixin, FlaskForm):
    reason = TextAreaField(
        _l("修改原因"),
        validators=[
            DataRequired(message=_l("请填写修改原因")),
            Length(max=1000, message=_l("原因不能超过 1000 字")),
        ],
    )


class VoidForm(FlaskForm):
    reason = TextAreaField(
        _l("作废原因"),
        validators=[
            DataRequired(message=_l("请填写作废原因")),
            Length(max=1000, message=_l("原因不能超过 1000 字")),
        ],
    )


class EvidenceForm(FlaskForm):
    evidence = MultipleFileField(_l("添加证据照片"))


class IncidentFilterForm(FlaskForm):
    """The list's filters, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    month = StringField(_l("月份"))
    unit_id = _select(_l("单位"))
    rule_code = _select(_l("规则"))
    status = _select(_l("状态"))
    recorded_by = _select(_l("登记人"))
    page = PageNumberField(
        _l("页码"), default=1, validators=[Optional(), NumberRange(min=1, message=_l("页码无效"))]
    )


class PatrolTapForm(FlaskForm):
    """A tap on a patrol cell (the CSRF token comes in the X-CSRFToken header htmx sends)."""

    unit_id = WholeNumberField(validators=[InputRequired(message=_l("缺少单位"))])
    window = StringField(validators=[InputRequired(message=_l("缺少窗口")), Length(max=20)])
    rule_code = StringField(validators=[InputRequired(message=_l("缺少规则")), Length(max=16)])
    client_key = StringField(validators=[InputRequired(message=_l("缺少记录标识")), Length(max=64)])
    date = DayField(validators=[InputRequired(message=_l("缺少日期"))])
    time = StringField(validators=[Optional(), Length(max=8)])


class PatrolUndoForm(FlaskForm):
    incident_id = WholeNumberField(validators=[InputRequired(message=_l("缺少记录编号"))])
