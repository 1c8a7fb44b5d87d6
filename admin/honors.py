"""The honor roll (光荣榜): the quarters and years, the candidates to choose from, publishing and
unpublishing (with a reason), and the praise letter (发函表扬) to each honoured unit.

Admins choose and publish; leaders read. Every change goes through services.honors (audited).
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp, flow
from admin.forms import ActionForm
from auth.access import role_required
from models import Role, db
from page_cache import kept_page
from security import whole_number
from services import DomainError, honors
from services.rulebooks import rulebook_for_month


def _period(text: str) -> tuple[str, int, int]:
    period = honors.parse_period(text)
    if period is None:
        abort(404)
    return period


def _slug(kind: str, year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}" if kind == "quarter" else f"{year}"


@bp.route("/honors")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def honor_list():
    quarters, years = honors.overview()
    return render_template("admin/honor_list.html", quarters=quarters, years=years)


def _ids(name: str) -> list[int]:
    out = []
    for value in request.form.getlist(name):
        number = whole_number(value)
        if number is None:
            raise DomainError(_("所选内容无效,请刷新页面后重试"))
        out.append(number)
    return out


def _page(kind: str, year: int, quarter: int, *, error: str | None = None, reason=None, status=200):
    roll = honors.roll_for(kind, year, quarter)
    problem = honors.period_problem(kind, year, quarter)
    cands = None
    if problem is None:
        cands = honors.candidates(kind, year, quarter)
    chosen_units = {e.unit_id for e in roll.entries if e.kind != "individual"} if roll else set()
    chosen_staff = {e.staff_pk for e in roll.entries if e.kind == "individual"} if roll else set()
    if error is not None and request.method == "POST" and request.endpoint == "admin.honor_select":
        # Keep what the admin ticked when the choice was refused.
        chosen_units = {whole_number(v) for v in request.form.getlist("unit")} - {None}
        chosen_staff = {whole_number(v) for v in request.form.getlist("staff")} - {None}
    return render_template(
        "admin/honor_period.html",
        kind=kind,
        year=year,
        quarter=quarter,
        slug=_slug(kind, year, quarter),
        label=honors.period_label(kind, year, quarter),
        roll=roll,
        problem=problem,
        cands=cands,
        chosen_units=chosen_units,
        chosen_staff=chosen_staff,
        error=error,
        action=ActionForm(formdata=None),
        reason=reason,
        window_label=honors.window_label,
        can_edit=current_user.role == Role.ADMIN,
    ), status


@bp.route("/honors/<period>")
@role_required(Role.ADMIN, Role.LEADER)
def honor_period(period: str):
    kind, year, quarter = _period(period)
    return _page(kind, year, quarter)


def _change(period: str, change, done, reason: str | None = None) -> object:
    """`done`: the success message, or a function of what `change` returned that says it."""
    kind, year, quarter = _period(period)
    if not ActionForm().validate_on_submit():
        abort(400)
    errors: list[str] = []
    response = flow.apply(
        lambda: change(kind, year, quarter),
        show=lambda error: errors.append(str(error)),
        done=done,
        to=url_for("admin.honor_period", period=_slug(kind, year, quarter)),
    )
    return response or _page(kind, year, quarter, error=errors[0], reason=reason, status=422)


@bp.route("/honors/<period>/select", methods=["POST"])
@role_required(Role.ADMIN)
def honor_select(period: str):
    def change(kind, year, quarter):
        honors.save_selection(kind, year, quarter, _ids("unit"), _ids("staff"))

    return _change(period, change, _("光荣榜名单已保存(草稿),发布后大厅大屏才会显示"))


def _roll_id(kind: str, year: int, quarter: int) -> int:
    roll = honors.roll_for(kind, year, quarter)
    if roll is None:
        raise DomainError(_("请先选定并保存光荣榜名单"))
    return roll.id


@bp.route("/honors/<period>/publish", methods=["POST"])
@role_required(Role.ADMIN)
def honor_publish(period: str):
    return _change(
        period,
        lambda k, y, q: honors.publish(_roll_id(k, y, q)),
        _published_message,
    )


def _published_message(roll) -> str:
    """Says what publishing did: the hall screen shows only the latest roll of each kind, and only while
    its honor page is on, so the message promises the screen only when both hold."""
    from services.kiosk import get_settings

    units = len({entry.unit_id for entry in roll.entries})
    latest_quarter, latest_year = honors.latest_published()
    latest = latest_quarter if roll.kind == "quarter" else latest_year
    if "honor" not in get_settings()["panels"]:
        screen = _("大厅大屏未启用光荣榜页面,可在“大屏设置”中启用")
    elif latest is None or latest.id != roll.id:
        screen = _("大厅大屏只显示最新一期(%(label)s),不显示本名单", label=latest.label if latest else "")
    else:
        screen = _("大厅大屏将显示该名单")
    return _("光荣榜已发布,已通知 %(units)d 个获评单位;%(screen)s", units=units, screen=screen)


@bp.route("/honors/<period>/unpublish", methods=["POST"])
@role_required(Role.ADMIN)
def honor_unpublish(period: str):
    reason = request.form.get("reason", "")

    def change(kind, year, quarter):
        honors.unpublish(_roll_id(kind, year, quarter), reason)

    return _change(period, change, _("光荣榜已撤回,大厅大屏不再显示该名单"), reason=reason)


@bp.route("/honors/<period>/letters/<int:unit_id>")
@bp.route("/honors/<period>/letters/<int:unit_id>.pdf", endpoint="honor_letter_pdf")
@role_required(Role.ADMIN, Role.LEADER)
def honor_letter(period: str, unit_id: int):
    """发函表扬: the praise letter to one honoured unit of a roll (HTML to print, or the PDF)."""
    from admin.documents import document_page
    from services import documents

    kind, year, quarter = _period(period)
    roll = honors.roll_for(kind, year, quarter)
    entries = honors.honours_of(roll, unit_id) if roll is not None else []
    if not entries:
        abort(404)
    unit = entries[0].unit
    number = None
    issued_on = None
    if roll.published:
        issued = documents.issue_document(f"praise:{roll.id}:{unit.id}", "praise_letter")
        db.session.commit()
        number, issued_on = issued.number, issued.issued_on
    slug = _slug(kind, year, quarter)
    return document_page(
        "documents/praise_letter.html",
        filename=f"表扬函-{roll.label}-{unit.name}.pdf",
        as_pdf=request.endpoint == "admin.honor_letter_pdf",
        roll=roll,
        unit=unit,
        collective=any(e.kind in ("collective", "year_unit") for e in entries),
        people=[e for e in entries if e.kind == "individual" and e.staff is not None],
        window_label=honors.window_label,
        # The measures the letter cites: those in force in the period's last month.
        rulebook_title=rulebook_for_month(year, quarter * 3 if quarter else 12).title,
        doc_number=number,
        issued_on=issued_on,
        draft=None if roll.published else _("草稿:光荣榜尚未发布,发布后生成文号"),
        back_url=url_for("admin.honor_period", period=slug),
        pdf_url=url_for("admin.honor_letter_pdf", period=slug, unit_id=unit.id),
    )


@bp.route("/exports/honor-letters", methods=["POST"])
@role_required(Role.ADMIN, Role.LEADER)
def honor_letters_job():
    """后台生成 every praise letter of a roll as one PDF (a letter per honoured unit, each from a new page);
    a published roll's letters get their numbers as opening each letter would."""
    from admin.exports import start_export
    from services import export_jobs

    period = (request.form.get("period") or "").strip()
    parsed = honors.parse_period(period)
    back = url_for("admin.honor_period", period=_slug(*parsed)) if parsed else url_for("admin.honor_list")
    return start_export(export_jobs.HONOR_LETTERS, {"period": period}, back)
