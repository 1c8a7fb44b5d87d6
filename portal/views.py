"""The unit portal's pages: the unit's months, items and notices, its detail table, the public rankings.

Every view is for unit users only and reads its unit from `current_user.unit_id`: another unit's items,
evidence and notices answer 404. Numbers come from services.standings through services.portal.
"""

from __future__ import annotations

from flask import abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin.documents import document_page, notice_filename
from admin.incidents import notice_number
from auth.access import own_unit_or_404, role_required
from htmx import render_page_or_block
from models import Role, Unit, db
from page_cache import kept_page
from portal import bp
from portal.forms import MonthFilterForm
from portal.inbox import bulletin_opened, reader_version
from scoring import RuleKind, format_month, parse_month
from services import evidence as evidence_files
from services import exports, portal
from services.clock import to_hall
from services.standings import month_row


def _unit() -> Unit:
    unit = db.session.get(Unit, current_user.unit_id) if current_user.unit_id else None
    if unit is None:
        # A unit account that no longer (or never) belonged to a unit has nothing to show.
        abort(403)
    return unit


def _month_or_404(text: str) -> tuple[int, int]:
    try:
        year, month = parse_month(text)
    except ValueError:
        abort(404)
    if not portal.is_portal_month(year, month):
        abort(404)
    return year, month


def _incident_or_404(incident_id: int):
    unit = _unit()
    incident = portal.incident_for_unit(unit.id, incident_id)
    if incident is None:
        abort(404)
    own_unit_or_404(incident.unit_id)
    return unit, incident


def _evidence(incident) -> list[dict]:
    # The evidence endpoint belongs to the admin blueprint; it serves unit users their own unit's files.
    return [
        {
            "id": e.id,
            "filename": e.filename,
            "is_image": evidence_files.displayable(e),
            "url": url_for("admin.evidence_file", evidence_id=e.id),
        }
        for e in incident.evidence
    ]


def _notice_title(rule) -> str:
    # A bonus is no violation: its notice (templates/_notice.html) is a 考核加分通知单.
    return _("考核加分通知单") if rule is not None and rule.kind == RuleKind.BONUS else _("违规违纪通知单")


@bp.route("/")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def home():
    unit = _unit()
    year, month = portal.current_month()
    summaries = portal.month_summaries(unit)
    return render_template(
        "portal/home.html",
        unit=unit,
        view=portal.unit_month(unit, year, month, row=month_row(year, month)),
        summaries=summaries,
        charts=portal.trend_charts(portal.trend(summaries)),
    )


@bp.route("/months/<month>")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def month_detail(month: str):
    unit = _unit()
    year, m = _month_or_404(month)
    row = month_row(year, m)
    if not portal.is_released(year, m, row=row):
        # 200 with a message (like the rankings page): the month exists, its bulletin is not issued yet.
        return render_template("portal/month_detail.html", unit=unit, view=None, year=year, month=m)
    bulletin_opened(row)  # a published month's bulletin read: the unit's read receipt (portal/inbox.py)
    return render_template(
        "portal/month_detail.html", unit=unit, view=portal.unit_month(unit, year, m, row=row)
    )


@bp.route("/months/<month>/detail.xlsx")
@role_required(Role.UNIT)
def month_export(month: str):
    unit = _unit()
    year, m = _month_or_404(month)
    if not portal.is_released(year, m):
        abort(404)
    data = exports.detail_table_xlsx(unit.code, year, m)
    response = current_app.response_class(data, mimetype=exports.XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = exports.content_disposition(
        exports.detail_filename(unit, year, m), exports.detail_ascii_name(unit, year, m)
    )
    # A live month changes with every incident: never serve a stale table from a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/items/<int:incident_id>")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def item_detail(incident_id: int):
    unit, incident = _incident_or_404(incident_id)
    rule = portal.incident_rule(incident)
    day = to_hall(incident.occurred_at)
    return render_template(
        "portal/item_detail.html",
        unit=unit,
        incident=incident,
        rule=rule,
        month_key=format_month(day.year, day.month),
        month_name=_("%(year)d年%(month)d月", year=day.year, month=day.month),
        rule_count_label=_("人数") if rule and rule.per_person else _("次数"),
        notice_title=_notice_title(rule),
        item=portal.item_of(unit, incident),
        derived=portal.derived_items_of(unit, incident),
        evidence=_evidence(incident),
    )


@bp.route("/items/<int:incident_id>/notice")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def item_notice(incident_id: int):
    unit, incident = _incident_or_404(incident_id)
    rule = portal.incident_rule(incident)
    return document_page(
        "portal/item_notice.html",
        filename=notice_filename(rule, notice_number(incident)),
        unit=unit,
        incident=incident,
        rule=rule,
        notice_title=_notice_title(rule),
    )


@bp.route("/rankings")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def rankings():
    unit = _unit()
    months = portal.portal_months()
    choices = [(format_month(y, m), _("%(year)d年%(month)d月", year=y, month=m)) for y, m in months]
    form = MonthFilterForm(request.args, months=choices)
    if "month" not in request.args:
        form.month.data = choices[0][0]
    status = 200
    rows, year, month, state, released = [], None, None, None, True
    if form.validate():
        year, month = parse_month(form.month.data)
        released = portal.is_released(year, month)
        if released:
            rows = portal.public_rankings(year, month)
            state = portal.status_of(year, month)
    else:
        status = 422
    body = render_page_or_block(
        "portal/rankings.html",
        "rankings_table",
        unit=unit,
        form=form,
        rows=rows,
        year=year,
        month=month,
        state=state,
        released=released,
    )
    return body, status
