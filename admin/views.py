"""The intranet's home (dashboard), the standings of any month with each unit's items, and the tallies."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from admin import bp
from auth.access import STAFF_ROLES, role_required
from htmx import is_htmx, render_page_or_block
from models import Job, MonthStatus, Role, Unit, db
from page_cache import kept_page
from scoring import format_month, parse_month
from security import int_arg, whole_number
from services import DomainError, jobs
from services import dashboard as board
from services.bounds import check_month_in_range
from services.paging import slice_of
from services.standings import month_row, standings, standings_json

TALLY_PAGE_SIZE = 50


def month_arg(name: str = "month") -> tuple[int, int]:
    """The ?month=YYYY-MM of the request, or the current month (with a Chinese message when it was bad)."""
    text = (request.args.get(name) or "").strip()
    if text:
        try:
            year, month = parse_month(text)
            check_month_in_range(year, month)  # 9999-12, 0001-01: a message, not a 500
            return year, month
        except DomainError as error:
            flash(_("%(why)s,已显示本月", why=str(error)), "error")
        except ValueError:
            flash(_("月份格式应为 YYYY-MM(如 2024-03),已显示本月"), "error")
    return board.current_month()


def month_options(selected: str) -> list[str]:
    """The months a month picker offers: the last 24 (newest first), plus the one shown if older."""
    labels = [format_month(y, m) for y, m in board.recent_months(24)]
    return labels if selected in labels else [selected, *labels]


def year_arg() -> int:
    text = (request.args.get("year") or "").strip()
    if text:
        year = whole_number(text, low=2000, high=2100)
        if year is not None:
            return year
        flash(_("年份应为 2000 至 2100 之间的四位数字,已显示今年"), "error")
    return board.current_month()[0]


def unit_ids() -> dict[str, int]:
    return dict(db.session.execute(select(Unit.code, Unit.id)).tuples().all())


def incident_url(incident_id: int) -> str | None:
    """The incident page's address, when the incidents blueprint part is there (it is built apart)."""
    for param in ("incident_id", "id"):
        try:
            return url_for("admin.incident_detail", **{param: incident_id})
        except BuildError:
            continue
    return None


def quick_links(role: str) -> list[tuple[str, str]]:
    """(label, url) of each task this role does, for endpoints that exist in this build."""
    wanted = {
        Role.INSPECTOR: [
            ("admin.patrol_sheet", _("巡查表")),
            ("admin.incident_new", _("登记扣加分")),
            ("admin.incident_list", _("扣加分记录")),
            ("admin.standings_page", _("排名")),
        ],
        Role.LEADER: [
            ("admin.standings_page", _("排名")),
            ("admin.month_list", _("月度关账与发布")),
            ("admin.incident_list", _("扣加分记录")),
            ("admin.tally_list", _("人员与窗口扣分统计")),
            ("admin.year_summary", _("年终汇总")),
            ("admin.audit_list", _("审计日志")),
        ],
        Role.ADMIN: [
            ("admin.patrol_sheet", _("巡查表")),
            ("admin.incident_new", _("登记扣加分")),
            ("admin.incident_list", _("扣加分记录")),
            ("admin.detection_list", _("检测待确认")),
            ("admin.month_list", _("月度关账与发布")),
            ("admin.standings_page", _("排名")),
            ("admin.tally_list", _("人员与窗口扣分统计")),
            ("admin.year_summary", _("年终汇总")),
            ("admin.unit_list", _("单位")),
            ("admin.staff_list", _("人员")),
            ("admin.calendar_page", _("工作日历")),
            ("admin.rulebook_list", _("考核细则")),
            ("admin.import_page", _("导入")),
            ("admin.user_list", _("用户")),
            ("admin.audit_list", _("审计日志")),
        ],
    }.get(role, [])
    return [
        (label, url_for(endpoint)) for endpoint, label in wanted if endpoint in current_app.view_functions
    ]


@bp.route("/")
@role_required(*STAFF_ROLES)
@kept_page
def dashboard():
    year, month = board.current_month()
    waiting = {}
    if current_user.role == Role.ADMIN:
        pending_months = board.pending_months()
        waiting = {
            "pending": sum(n for _label, n in pending_months),
            "pending_months": pending_months,
            "to_close": board.months_to_close(),
            "to_publish": board.months_to_publish(),
        }
    elif current_user.role == Role.LEADER:
        waiting = {"to_close": board.months_to_close(), "to_publish": board.months_to_publish()}
    row = month_row(year, month)
    return render_page_or_block(
        "admin/dashboard.html",
        "live_standings",
        result=standings(year, month, row=row),
        status=str(row.status if row else MonthStatus.OPEN),
        label=format_month(year, month),
        waiting=waiting,
        notice_counts=board.notice_counts() if current_user.role in (Role.ADMIN, Role.LEADER) else None,
        links=quick_links(current_user.role),
        unit_ids=unit_ids(),
    )


@bp.route("/standings")
@role_required(*STAFF_ROLES)
@kept_page
def standings_page():
    year, month = month_arg()
    row = month_row(year, month)
    result = standings(year, month, row=row)
    return render_page_or_block(
        "admin/standings_page.html",
        "standings_table",
        result=result,
        data={"rulebook": result.rulebook_key},
        status=str(row.status if row else MonthStatus.OPEN),
        label=format_month(year, month),
        unit_ids=unit_ids(),
        month_options=month_options(format_month(year, month)),
    )


@bp.route("/standings/<month>/units/<int:unit_id>")
@role_required(*STAFF_ROLES)
@kept_page
def standings_items(month: str, unit_id: int):
    """One unit's items in a month (the standings row's htmx expansion); ?collapse=1 folds it again."""
    try:
        year, mon = parse_month(month)
        check_month_in_range(year, mon)  # 9999-12, 0001-01, a month not begun: no standings to show
    except ValueError:  # DomainError too
        abort(404)
    unit = db.get_or_404(Unit, unit_id)
    collapse = request.args.get("collapse") == "1"
    items = [] if collapse else board.unit_items(year, mon, unit.code)
    context = {}
    if not is_htmx():
        # Opened directly: the whole standings page of that month, with this unit's items shown.
        data = standings_json(year, mon)
        context = {
            "result": standings(year, mon),
            "data": data,
            "status": data["status"],
            "unit_ids": unit_ids(),
            "month_options": month_options(format_month(year, mon)),
        }
    return render_page_or_block(
        "admin/standings_page.html",
        "unit_items",
        unit=unit,
        items=items,
        collapse=collapse,
        label=format_month(year, mon),
        incident_url=incident_url,
        **context,
    )


@bp.route("/tallies")
@role_required(*STAFF_ROLES)
@kept_page
def tally_list():
    """One table at a time (by staff or by window), 50 rows a page, most points first: a hall of 2,000
    staff made a page of 30,000 cells."""
    year = year_arg()
    by = "window" if request.args.get("by") == "window" else "staff"
    by_staff, by_window = board.tallies(year)
    listed = slice_of(by_window if by == "window" else by_staff, int_arg("page"), TALLY_PAGE_SIZE)
    return render_page_or_block(
        "admin/tally_list.html",
        "tallies",
        year=year,
        by=by,
        listed=listed,
        counts={"staff": len(by_staff), "window": len(by_window)},
        months=range(1, 13),
    )


# ---------------------------------------------------------------- background jobs of the admin pages

# Progress of the jobs running in this process: SQLite lets one writer at a time, and a job's own
# transaction holds that lock until it commits, so its progress cannot be committed to the job row meanwhile.
LIVE_PROGRESS: dict[int, tuple[int, int]] = {}


def run_admin_job(progress, fn: Callable[..., dict], *work_args) -> dict:
    """The work of an admin page's job (module level: an RQ worker imports it by name)."""

    def report(done: int, total: int, message: str = "") -> None:
        LIVE_PROGRESS[progress.job_id] = (done, total)
        if db.engine.dialect.name != "sqlite":
            progress(done, total, message)

    try:
        result = fn(*work_args, progress=report)
        db.session.commit()
    finally:
        LIVE_PROGRESS.pop(progress.job_id, None)
    return result


def start_job(kind: str, user_id: int, fn: Callable[..., dict], *args) -> Job:
    """Run `fn(*args, progress=…)` through services.jobs as the admin who asked (audit rows name them)."""
    return jobs.start(kind, run_admin_job, fn, *args, started_by=user_id)


def job_progress(job: Job) -> tuple[int, int]:
    jobs.settle(job)  # a job whose worker died is failed now, not polled forever
    if job.status == "running" and job.id in LIVE_PROGRESS:
        return LIVE_PROGRESS[job.id]
    return job.done, job.total
