"""The portal's one form: the month picker of the public rankings (a GET filter, so no CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired, ValidationError


class MonthFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only GET filter: nothing is written

    # Our own check below gives the Chinese message (WTForms' built-in choice check is English).
    month = SelectField(
        _l("月份"), validate_choice=False, validators=[DataRequired(message=_l("请选择月份"))]
    )

    def __init__(self, *args, months: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.month.choices = months

    def validate_month(self, field):
        if field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("没有该月份的排名,请从列表中选择月份"))
