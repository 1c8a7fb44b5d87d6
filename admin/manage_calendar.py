"""The working-day calendar as a month grid (an admin marks holidays and make-up working days, htmx swaps
the day's cell) and the clock-in device outages that exempt D16."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp, flow
from admin.forms import CalendarDayForm, OutageForm
from auth.access import role_required
from htmx import is_htmx, render_block
from models import Role
from page_cache import kept_page
from scoring import format_month, next_month
from scoring.calendar import prev_month
from security import whole_number
from services.calendar_admin import add_outage, day_cell, month_grid, recent_outages, toggle_day
from services.clock import from_hall, hall_today

TEMPLATE = "admin/calendar_page.html"


def _year_month() -> tuple[int, int]:
    today = hall_today()
    year_text, month_text = request.args.get("year", ""), request.args.get("month", "")
    if not year_text and not month_text:
        return today.year, today.month
    year, month = whole_number(year_text, low=2000, high=2100), whole_number(month_text, high=12)
    if year is not None and month is not None:
        return year, month
    flash(_("年份或月份无效,已显示本月"), "error")
    return today.year, today.month


def _page(year: int, month: int, outage: OutageForm | None = None, status: int = 200):
    prev = prev_month(year, month)
    return render_template(
        TEMPLATE,
        year=year,
        month=month,
        label=format_month(year, month),
        weeks=month_grid(year, month),
        prev=prev,
        next=next_month(year, month),
        outage=outage or OutageForm(formdata=None),
        outages=recent_outages(),
        errors={},
        can_edit=current_user.role == Role.ADMIN,  # a leader reads the calendar, marks nothing
    ), status


@bp.route("/calendar")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def calendar_page():
    return _page(*_year_month())


@bp.route("/calendar/days/<day>", methods=["POST"])
@role_required(Role.ADMIN)
def calendar_day(day: str):
    """Toggle a day: a weekday becomes a holiday, a weekend day a make-up working day, a marked day normal."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    form = CalendarDayForm()
    errors: list[str] = []
    if form.validate_on_submit():
        _ok, cell = flow.attempt(
            lambda: toggle_day(when, form.note.data or ""), show=lambda error: errors.append(str(error))
        )
    else:
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    error = "".join(errors) or None
    if error:
        cell = day_cell(when)
    if is_htmx():
        return render_block(
            TEMPLATE, "day_cell", cell=cell, errors={when: error} if error else {}, can_edit=True
        ), 422 if error else 200
    if error:
        flash(error, "error")
    return redirect(url_for("admin.calendar_page", year=when.year, month=when.month))


@bp.route("/calendar/outages", methods=["POST"])
@role_required(Role.ADMIN)
def outage_new():
    form = OutageForm()
    today = hall_today()
    if form.validate_on_submit():
        start = form.start_at.data
        response = flow.apply(
            lambda: add_outage(from_hall(start), from_hall(form.end_at.data), form.note.data or ""),
            show=form,
            done=_("已登记打卡机故障,故障期间不会生成打卡缺失检测"),
            to=url_for("admin.calendar_page", year=start.year, month=start.month),
        )
        if response:
            return response
    return _page(today.year, today.month, outage=form, status=422)
