"""The hall screen's settings (rotation, panels, quiet hours) and its screens' last contact: admins change
them, leaders read them."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, Regexp

from admin import bp
from auth.access import role_required
from models import Role, db
from services import DomainError, kiosk

_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class KioskSettingsForm(FlaskForm):
    interval = IntegerField(
        _l("每页显示时间(秒)"),
        validators=[
            InputRequired(message=_l("请填写每页显示的秒数")),
            NumberRange(*kiosk.INTERVAL_RANGE, message=_l("应为 2 至 300 之间的整数")),
        ],
    )
    panel_live = BooleanField(_l("本月实时排名(暂定)"))
    panel_published = BooleanField(_l("最近一期考核通报(正式结果、等级、名次升降)"))
    panel_honor = BooleanField(_l("光荣榜(已发布的季度和年度名单)"))
    panel_topbottom = BooleanField(_l("本月前 N 名与后 N 名"))
    top_n = IntegerField(
        _l("前后名单各显示的单位数 N"),
        validators=[
            InputRequired(message=_l("请填写单位数")),
            NumberRange(*kiosk.TOP_N_RANGE, message=_l("应为 1 至 10 之间的整数")),
        ],
    )
    quiet_enabled = BooleanField(_l("非办公时间显示“非办公时间”画面"))
    quiet_start = StringField(
        _l("非办公时间开始"),
        validators=[
            InputRequired(message=_l("请填写开始时间")),
            Regexp(_HHMM, message=_l("时间格式应为 HH:MM,如 18:00")),
        ],
    )
    quiet_end = StringField(
        _l("非办公时间结束"),
        validators=[
            InputRequired(message=_l("请填写结束时间")),
            Regexp(_HHMM, message=_l("时间格式应为 HH:MM,如 08:00")),
        ],
    )
    quiet_non_working = BooleanField(_l("周末和节假日(按工作日历)全天显示“非办公时间”画面"))
    opening_text = StringField(
        _l("办公时间说明(留空则按考核细则中的大厅办公时间显示)"),
        validators=[Length(max=80, message=_l("不能超过 80 个字"))],
    )
    submit = SubmitField(_l("保存"))

    PANEL_FIELDS = {
        "live": "panel_live",
        "published": "panel_published",
        "honor": "panel_honor",
        "topbottom": "panel_topbottom",
    }

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not any(getattr(self, name).data for name in self.PANEL_FIELDS.values()):
            self.panel_live.errors.append(_("请至少选择一个要显示的版块"))
            ok = False
        if self.quiet_start.data and self.quiet_start.data == self.quiet_end.data:
            self.quiet_end.errors.append(_("结束时间不能与开始时间相同"))
            ok = False
        return ok

    def fill(self, settings: dict) -> None:
        for panel, name in self.PANEL_FIELDS.items():
            getattr(self, name).data = panel in settings["panels"]
        for name in (
            "interval",
            "top_n",
            "quiet_enabled",
            "quiet_start",
            "quiet_end",
            "quiet_non_working",
            "opening_text",
        ):
            getattr(self, name).data = settings[name]

    def values(self) -> dict:
        return {
            "interval": self.interval.data,
            "panels": [panel for panel, name in self.PANEL_FIELDS.items() if getattr(self, name).data],
            "top_n": self.top_n.data,
            "quiet_enabled": bool(self.quiet_enabled.data),
            "quiet_start": self.quiet_start.data.strip(),
            "quiet_end": self.quiet_end.data.strip(),
            "quiet_non_working": bool(self.quiet_non_working.data),
            "opening_text": (self.opening_text.data or "").strip(),
        }


@bp.route("/kiosk", methods=["GET"])
@role_required(Role.ADMIN, Role.LEADER)
def kiosk_settings():
    """Admins get the settings form; a leader reads the same settings and the screens, without a form."""
    form = KioskSettingsForm(formdata=None)
    form.fill(kiosk.get_settings())
    return _page(form, 200)


@bp.route("/kiosk", methods=["POST"])
@role_required(Role.ADMIN)
def kiosk_settings_save():
    form = KioskSettingsForm()
    if form.validate_on_submit():
        try:
            kiosk.save_settings(form.values())
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("大屏设置已保存,各大屏将在几秒内更新"), "success")
            return redirect(url_for("admin.kiosk_settings"))
    return _page(form, 422)


def _page(form: KioskSettingsForm, status: int):
    return render_template(
        "admin/kiosk_settings.html",
        form=form,
        settings=kiosk.get_settings(),
        can_edit=current_user.role == Role.ADMIN,
        screens=kiosk.screens(),
        silent_minutes=int(kiosk.SILENT_AFTER.total_seconds() // 60),
        default_screen=kiosk.DEFAULT_SCREEN,
    ), status
