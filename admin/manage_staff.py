"""Staff: the roster with each member's current posting, add, move, end, posting history and leave.

Every change goes through services.roster, which keeps the whole posting history D13 reads.
"""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp, flow
from admin.forms import LeaveForm, StaffEndForm, StaffForm, StaffMoveForm, unit_choices
from auth.access import role_required
from htmx import render_page_or_block
from models import Role, Staff, Unit, db
from page_cache import kept_page
from security import int_arg, whole_number
from services import roster
from services.calendar_admin import add_leave, leaves_of, list_units
from services.clock import hall_today
from services.staff_list import staff_page


@bp.route("/staff")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def staff_list():
    """The roster by staff id, 50 a page (the numbered pager of the incidents list), filtered by unit and
    by whether those who left are shown; an htmx page change swaps the table only."""
    unit_text = request.args.get("unit", "")
    unit_id = whole_number(unit_text)
    show_ended = request.args.get("ended") == "1"
    listed = staff_page(hall_today(), unit_id, show_ended, int_arg("page") or 1)
    filters = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_page_or_block(
        "admin/staff_list.html",
        "table",
        listed=listed,
        rows=listed.rows,
        filters=filters,
        units=list_units(),
        unit_id=unit_id,
        show_ended=show_ended,
        can_edit=current_user.role == Role.ADMIN,
    )


@bp.route("/staff/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@kept_page
def staff_new():
    form = StaffForm()
    form.unit_id.choices = unit_choices(_("请选择单位"))
    if request.method == "GET" and whole_number(request.args.get("unit")):
        form.unit_id.data = whole_number(request.args.get("unit"))
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data)
        response = flow.apply(
            lambda: roster.add_staff(
                form.staff_id.data,
                form.name.data,
                unit,
                form.category.data,
                form.window.data,
                form.start_date.data,
            ),
            show=form,
            done=lambda staff: _("已添加 %(name)s", name=staff.name),
            to=lambda staff: url_for("admin.staff_detail", staff_pk=staff.id),
        )
        if response:
            return response
    return render_template("admin/staff_form.html", form=form), 422 if form.errors else 200


def _detail(staff: Staff, move=None, end=None, leave=None, status: int = 200):
    move = move or StaffMoveForm(prefix="move", formdata=None)
    end = end or StaffEndForm(prefix="end", formdata=None)
    leave = leave or LeaveForm(prefix="leave", formdata=None)
    move.unit_id.choices = unit_choices(_("请选择单位"))
    current = roster.open_posting(staff)
    if move.unit_id.data is None and current is not None:
        move.unit_id.data, move.category.data = current.unit_id, current.category
    return render_template(
        "admin/staff_detail.html",
        staff=staff,
        current=current,
        move=move,
        end=end,
        leave=leave,
        leaves=leaves_of(staff),
        can_edit=current_user.role == Role.ADMIN,  # a leader reads the history, changes nothing
    ), status


@bp.route("/staff/<int:staff_pk>")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def staff_detail(staff_pk: int):
    return _detail(db.get_or_404(Staff, staff_pk))


def _apply(staff: Staff, form, change, done_message: str, **forms):
    """Validate `form`, run `change()` (a roster service call), commit; else re-render the page with 422."""
    if form.validate_on_submit():
        response = flow.apply(
            change, show=form, done=done_message, to=url_for("admin.staff_detail", staff_pk=staff.id)
        )
        if response:
            return response
    db.session.refresh(staff)
    return _detail(staff, status=422, **forms)


@bp.route("/staff/<int:staff_pk>/move", methods=["POST"])
@role_required(Role.ADMIN)
def staff_move(staff_pk: int):
    staff = db.get_or_404(Staff, staff_pk)
    form = StaffMoveForm(prefix="move")
    form.unit_id.choices = unit_choices(_("请选择单位"))

    def change():
        roster.move_staff(
            staff,
            db.session.get(Unit, form.unit_id.data),
            form.window.data,
            form.category.data,
            form.from_date.data,
        )

    return _apply(staff, form, change, _("已调岗"), move=form)


@bp.route("/staff/<int:staff_pk>/end", methods=["POST"])
@role_required(Role.ADMIN)
def staff_end(staff_pk: int):
    staff = db.get_or_404(Staff, staff_pk)
    form = StaffEndForm(prefix="end")
    return _apply(
        staff, form, lambda: roster.end_staff(staff, form.end_date.data), _("已登记离岗日期"), end=form
    )


@bp.route("/staff/<int:staff_pk>/leave", methods=["POST"])
@role_required(Role.ADMIN)
def staff_leave(staff_pk: int):
    staff = db.get_or_404(Staff, staff_pk)
    form = LeaveForm(prefix="leave")
    return _apply(
        staff,
        form,
        lambda: add_leave(staff, form.start_date.data, form.end_date.data, form.note.data),
        _("已登记请假"),
        leave=form,
    )
