"""The hall screen's settings (rotation, panels, quiet hours) and its registered screens: admins change
them, register a screen (its address with a token is shown once), give it a new address or revoke it;
leaders read them."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, Regexp

from admin import bp, flow
from auth.access import role_required
from models import KioskScreen, Role, db
from page_cache import kept_page, minute_version
from services import kiosk

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


class ScreenForm(FlaskForm):
    name = StringField(
        _l("大屏名称(如 二楼东厅)"),
        validators=[
            InputRequired(message=_l("请填写大屏名称")),
            Length(max=32, message=_l("不能超过 32 个字")),
        ],
    )
    orientation = SelectField(_l("方向"), validate_choice=False)
    register = SubmitField(_l("登记大屏"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.orientation.choices = list(kiosk.orientation_labels().items())


def _screens_version() -> tuple:
    """The screens' contacts, and the minute: a screen goes silent with the clock, without any write."""
    return kiosk.screens_version() + minute_version()


@bp.route("/kiosk", methods=["GET"])
@role_required(Role.ADMIN, Role.LEADER)
@kept_page(version=_screens_version)
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
        response = flow.apply(
            lambda: kiosk.save_settings(form.values()),
            show=flow.flash_error,
            done=_("大屏设置已保存,各大屏将在几秒内更新"),
            to=url_for("admin.kiosk_settings"),
        )
        if response:
            return response
    return _page(form, 422)


@bp.route("/kiosk/screens", methods=["POST"])
@role_required(Role.ADMIN)
def kiosk_screen_register():
    screen_form = ScreenForm()
    if screen_form.validate_on_submit():
        ok, registered = flow.attempt(
            lambda: kiosk.register_screen(
                screen_form.name.data, screen_form.orientation.data, current_user.id
            ),
            show=screen_form.name,
        )
        if ok:
            screen, token = registered
            # Not a redirect: only the token's hash is kept, so this answer is the one chance to copy it.
            return _settings_page(200, issued=(screen.name, token))
    return _settings_page(422, screen_form=screen_form)


def _screen_or_404(screen_id: int) -> KioskScreen:
    return db.get_or_404(KioskScreen, screen_id)


@bp.route("/kiosk/screens/<int:screen_id>/token", methods=["POST"])
@role_required(Role.ADMIN)
def kiosk_screen_reissue(screen_id: int):
    screen = _screen_or_404(screen_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    token = kiosk.reissue_token(screen, current_user.id)
    db.session.commit()
    return _settings_page(200, issued=(screen.name, token))


@bp.route("/kiosk/screens/<int:screen_id>/revoke", methods=["POST"])
@role_required(Role.ADMIN)
def kiosk_screen_revoke(screen_id: int):
    screen = _screen_or_404(screen_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    name = screen.name
    kiosk.revoke_screen(screen, current_user.id)
    db.session.commit()
    flash(_("已撤销大屏“%(name)s”:它的地址仍显示公开画面,但不再记录联络", name=name), "success")
    return redirect(url_for("admin.kiosk_settings") + "#screens")


def _settings_page(status: int, **extra):
    form = KioskSettingsForm(formdata=None)
    form.fill(kiosk.get_settings())
    return _page(form, status, **extra)


def _page(
    form: KioskSettingsForm,
    status: int,
    screen_form: ScreenForm | None = None,
    issued: tuple[str, str] | None = None,
):
    issued_url = None
    if issued is not None:
        issued_url = (issued[0], url_for("kiosk.screen", screen=issued[1], _external=True))
    return render_template(
        "admin/kiosk_settings.html",
        form=form,
        screen_form=screen_form or ScreenForm(formdata=None),
        action_form=FlaskForm(formdata=None),
        issued=issued_url,
        settings=kiosk.get_settings(),
        can_edit=current_user.role == Role.ADMIN,
        screens=kiosk.screens(),
        orientations=kiosk.orientation_labels(),
        silent_minutes=int(kiosk.SILENT_AFTER.total_seconds() // 60),
        max_screens=kiosk.MAX_SCREENS,
    ), status
