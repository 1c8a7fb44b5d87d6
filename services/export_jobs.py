"""Heavy exports as background jobs (issue 10, item 5): the year's detail tables of every unit, the incidents
list with its filters, the tallies, and the PDF batches (a month's detail tables of every unit, every praise
letter of an honor roll).

Each is a job of services.jobs (an RQ worker with REDIS_URL set, else a thread of the web process), its kind
one of KINDS. The work (`run`) writes the file into EXPORT_DIR (config.py: a directory every app server
shares) under a name of its own (`<job id>-<random>.xlsx`), and the job's result names it and the download's
file name. The file is served only to the user who started the job, or to an admin (`may_read`); it is kept
KEEP_HOURS hours, and a newer export of the same thing by the same user replaces it.

The single small documents (one notice, one unit's detail table, one letter) and the light spreadsheets stay
synchronous downloads; so do the download addresses of the heavy ones, for scripts (README.md).

Nothing here reads a request or the logged-in user: the views pass the user and the parameters.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from models import Job, Role, Unit, db
from scoring import parse_month
from services import DomainError, exports, honors, portal, yearly
from services import documents as docs
from services.bounds import check_month_in_range
from services.rulebooks import rulebook_for_month
from services.standings import month_row, standings

YEAR_DETAILS = "export.year_details"
INCIDENTS = "export.incidents"
TALLIES = "export.tallies"
MONTH_DETAILS = "export.month_details"
HONOR_LETTERS = "export.honor_letters"

XLSX = ("xlsx", exports.XLSX_MIMETYPE)
PDF = ("pdf", "application/pdf")
_EXPORT_ROLES = (Role.ADMIN, Role.LEADER)  # the spreadsheets and letters (admin/exports.py's EXPORT_ROLES)
_STAFF_ROLES = (Role.ADMIN, Role.INSPECTOR, Role.LEADER)  # the detail tables as documents
KEEP_HOURS = 24
_FILE = re.compile(r"^[0-9]+-[0-9a-f]{32}\.(xlsx|pdf)$")
_PART = re.compile(r"^\.[0-9]+-[0-9a-f]{32}\.(xlsx|pdf)\.part$")
# The progress row is written at most this often (a year of 200 units reports 200 times).
_PROGRESS_EVERY = 0.5


@dataclass(frozen=True)
class Built:
    filename: str  # the download's name (Chinese)
    ascii_name: str  # for clients that read only the plain filename=
    count: int  # the units, rows or letters in it
    text: str  # what the job page says it holds


@dataclass(frozen=True)
class Kind:
    roles: tuple[str, ...]
    file: tuple[str, str]  # (extension, mimetype)
    check: Callable[[dict], dict]
    title: Callable[[dict], str]
    build: Callable[[Path, dict, Callable], Built]


# ---------------------------------------------------------------- where the files live


def export_dir() -> Path:
    return Path(current_app.config["EXPORT_DIR"])


def keep_seconds() -> int:
    return int(float(current_app.config.get("EXPORT_KEEP_HOURS", KEEP_HOURS)) * 3600)


def clean_old_files(now: float | None = None) -> int:
    """Remove the files (and half-written ones) older than KEEP_HOURS; returns how many."""
    folder = export_dir()
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - keep_seconds()
    removed = 0
    for path in folder.iterdir():
        if not (_FILE.match(path.name) or _PART.match(path.name)):
            continue  # not ours
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another server cleaned it meanwhile
            continue
    return removed


def stored_file(job: Job) -> Path | None:
    """The file a finished export job made, while it is kept; None once expired or replaced."""
    result = job.result if isinstance(job.result, dict) else {}
    name = result.get("file")
    if job.status != "done" or not isinstance(name, str) or not _FILE.match(name):
        return None
    path = export_dir() / name
    try:
        if path.stat().st_mtime < time.time() - keep_seconds():
            return None
    except FileNotFoundError:
        return None
    return path


def _remove(job: Job) -> None:
    name = (job.result or {}).get("file") if isinstance(job.result, dict) else None
    if isinstance(name, str) and _FILE.match(name):
        (export_dir() / name).unlink(missing_ok=True)


# ---------------------------------------------------------------- who may do what


def is_export(job: Job | None) -> bool:
    return job is not None and job.kind in KINDS


def may_start(kind: str, role: str) -> bool:
    return kind in KINDS and role in KINDS[kind].roles


def may_read(job: Job, user_id: int, role: str) -> bool:
    """The user who started the job, or an admin; and only while their role may make that export."""
    if not is_export(job) or not may_start(job.kind, role):
        return False
    return job.created_by_id == user_id or role == Role.ADMIN


def params_of(job: Job) -> dict:
    result = job.result if isinstance(job.result, dict) else {}
    params = result.get("params")
    return dict(params) if isinstance(params, dict) else {}


def check(kind: str, params: dict) -> dict:
    """The parameters of an export to start, checked (DomainError in Chinese) and in their plain form."""
    if kind not in KINDS:
        raise DomainError(_("没有这种导出"))
    return KINDS[kind].check(dict(params))


def title(job: Job) -> str:
    """What the job makes, e.g. "2024年各单位考核评分明细表(.xlsx)"."""
    try:
        return KINDS[job.kind].title(params_of(job))
    except (KeyError, TypeError, ValueError):
        return _("导出文件")


# ---------------------------------------------------------------- the parameters of each kind


def _year(params: dict) -> dict:
    year = params.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise DomainError(_("年份应为四位数字,如 2024"))
    yearly.year_months(year)  # DomainError: a year without months to export
    return {"year": year}


def _month(params: dict) -> tuple[dict, int, int]:
    text = params.get("month")
    try:
        year, month = parse_month(text if isinstance(text, str) else "")
    except ValueError:
        raise DomainError(_("月份格式应为 YYYY-MM(如 2024-03)")) from None
    check_month_in_range(year, month)
    return {"month": f"{year:04d}-{month:02d}"}, year, month


def _check_month_details(params: dict) -> dict:
    return _month(params)[0]


def _check_incidents(params: dict) -> dict:
    from services import incident_list

    out, year, month = _month(params)
    problem = incident_list.month_problem(year, month)
    if problem:
        raise DomainError(problem)
    for name in ("unit_id", "recorded_by"):
        value = params.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise DomainError(_("筛选条件无效"))
        out[name] = value
    for name in ("rule_code", "status", "filters_text"):
        value = params.get(name)
        if value is not None and not isinstance(value, str):
            raise DomainError(_("筛选条件无效"))
        out[name] = value or None
    return out


def _check_honor_letters(params: dict) -> dict:
    text = params.get("period")
    period = honors.parse_period(text if isinstance(text, str) else "")
    if period is None:
        raise DomainError(_("光荣榜期间无效"))
    roll = honors.roll_for(*period)
    if roll is None or not roll.entries:
        raise DomainError(_("该期光荣榜还没有名单,没有表扬函可生成"))
    return {"period": text.strip()}


def _title_year_details(p: dict) -> str:
    return _("%(year)d年各单位考核评分明细表(.xlsx)", year=p["year"])


def _title_tallies(p: dict) -> str:
    return _("%(year)d年人员与窗口扣分统计(.xlsx)", year=p["year"])


def _title_incidents(p: dict) -> str:
    year, month = parse_month(p["month"])
    text = _("%(year)d年%(month)d月扣加分记录(.xlsx)", year=year, month=month)
    return f"{text} {p['filters_text']}" if p.get("filters_text") else text


def _title_month_details(p: dict) -> str:
    year, month = parse_month(p["month"])
    return _("%(year)d年%(month)d月各单位考核评分明细表(PDF)", year=year, month=month)


def _title_honor_letters(p: dict) -> str:
    kind, year, quarter = honors.parse_period(p["period"])
    return _("%(label)s光荣榜表扬函(PDF,全部获评单位)", label=honors.period_label(kind, year, quarter))


# ---------------------------------------------------------------- building the files


def _build_year_details(path: Path, p: dict, progress) -> Built:
    year = p["year"]
    with path.open("wb") as out:
        units = exports.write_details_xlsx(out, year, yearly.year_months(year), progress)
    return Built(
        exports.details_filename(year, None),
        exports.details_ascii_name(year, None),
        units,
        _("共 %(n)d 个单位,每个单位一张工作表", n=units),
    )


def _build_tallies(path: Path, p: dict, progress) -> Built:
    year = p["year"]
    progress(0, 1, _("正在统计"))
    path.write_bytes(exports.tallies_xlsx(year))
    return Built(
        exports.tallies_filename(year), exports.tallies_ascii_name(year), 1, _("按人员、按窗口各一张工作表")
    )


def _build_incidents(path: Path, p: dict, progress) -> Built:
    from services import incident_list

    year, month = parse_month(p["month"])
    progress(0, 2, _("正在读取记录"))
    rulebook = rulebook_for_month(year, month)
    listed = incident_list.list_page(
        incident_list.ListFilter(
            year,
            month,
            unit_id=p.get("unit_id"),
            rule_code=p.get("rule_code"),
            status=p.get("status"),
            recorded_by_id=p.get("recorded_by"),
        ),
        1,
        rulebook,
        per_page=exports.INCIDENTS_LIMIT,
    )
    progress(1, 2, _("正在写入表格(共 %(n)d 条)", n=listed.total))
    path.write_bytes(exports.incidents_xlsx(listed, rulebook, year, month, p.get("filters_text") or ""))
    return Built(
        exports.incidents_filename(year, month),
        exports.incidents_ascii_name(year, month),
        listed.total,
        _("共 %(n)d 条记录", n=listed.total),
    )


def scored_units(year: int, month: int) -> list[Unit]:
    """The month's units in listing order (the standings'), by their rows."""
    codes = [u.code for u in standings(year, month).units]
    rows = db.session.scalars(select(Unit).where(Unit.code.in_(codes))) if codes else []
    by_code = {u.code: u for u in rows}
    return [by_code[c] for c in codes if c in by_code]


def details_views(units: list[Unit], year: int, month: int, progress=None) -> list[tuple[Unit, Any]]:
    """(unit, services.portal.UnitMonth) of each unit for the detail table document (a page each)."""
    row = month_row(year, month)
    result = standings(year, month, row=row)
    scored = (result, portal.month_rulebook(result))  # once for every unit's page
    views = []
    for n, unit in enumerate(units, start=1):
        views.append((unit, portal.unit_month(unit, year, month, row=row, scored=scored)))
        if progress is not None:
            progress(n, len(units) + 1, _("正在整理各单位明细"))
    return views


def details_context(views: list, year: int, month: int) -> dict:
    """The context of templates/documents/details.html (admin.documents.details_page's too)."""
    return {
        "views": views,
        "year": year,
        "month": month,
        "status": views[0][1].status if views else "open",
        "doc_number": "",
        "issued_on": None,
    }


def _build_month_details(path: Path, p: dict, progress) -> Built:
    year, month = parse_month(p["month"])
    progress(0, 1, _("正在计算各单位成绩"))
    units = scored_units(year, month)
    views = details_views(units, year, month, progress)
    progress(len(units), len(units) + 1, _("正在排版 PDF(共 %(n)d 个单位)", n=len(units)))
    html = render_document("documents/details.html", **details_context(views, year, month))
    path.write_bytes(docs.render_pdf(html))
    return Built(
        _("%(y)d年%(m)d月各单位考核评分明细表.pdf", y=year, m=month),
        f"details-{year:04d}-{month:02d}.pdf",
        len(units),
        _("共 %(n)d 个单位,每个单位一页起", n=len(units)),
    )


def praise_letter_context(roll, entries: list, year: int, quarter: int) -> dict:
    """The context of templates/documents/praise_letter.html for one honoured unit (as admin.honors'
    letter page): a published roll's letter gets its number here (flushed, not committed)."""
    unit = entries[0].unit
    number = issued_on = None
    if roll.published:
        issued = docs.issue_document(f"praise:{roll.id}:{unit.id}", "praise_letter")
        number, issued_on = issued.number, issued.issued_on
    return {
        "roll": roll,
        "unit": unit,
        "collective": any(e.kind in ("collective", "year_unit") for e in entries),
        "people": [e for e in entries if e.kind == "individual" and e.staff is not None],
        "window_label": honors.window_label,
        # The measures the letter cites: those in force in the period's last month.
        "rulebook_title": rulebook_for_month(year, quarter * 3 if quarter else 12).title,
        "doc_number": number,
        "issued_on": issued_on,
        "draft": None if roll.published else _("草稿:光荣榜尚未发布,发布后生成文号"),
    }


def _build_honor_letters(path: Path, p: dict, progress) -> Built:
    kind, year, quarter = honors.parse_period(p["period"])
    roll = honors.roll_for(kind, year, quarter)
    if roll is None or not roll.entries:
        raise DomainError(_("该期光荣榜还没有名单,没有表扬函可生成"))
    unit_ids = list(dict.fromkeys(e.unit_id for e in roll.entries))  # each honoured unit once, in roll order
    htmls = []
    for n, unit_id in enumerate(unit_ids):
        progress(n, len(unit_ids) + 1, _("正在生成表扬函"))
        context = praise_letter_context(roll, honors.honours_of(roll, unit_id), year, quarter)
        db.session.commit()  # its number, as opening the letter's page gives it
        htmls.append(render_document("documents/praise_letter.html", **context))
    progress(len(unit_ids), len(unit_ids) + 1, _("正在排版 PDF(共 %(n)d 封)", n=len(unit_ids)))
    path.write_bytes(render_pdfs(htmls))
    slug = p["period"]
    return Built(
        _("表扬函-%(label)s-全部获评单位.pdf", label=roll.label),
        f"praise-letters-{slug}.pdf",
        len(unit_ids),
        _("共 %(n)d 封表扬函,每个获评单位一封", n=len(unit_ids)),
    )


def render_document(template: str, **context: Any) -> str:
    """A document's HTML for its PDF, outside a request: `url_for` builds paths from the URL map (the
    documents link only their static files), the toolbar is left out (`pdf`)."""
    adapter = current_app.url_map.bind("hallscore.invalid")

    def url_for(endpoint: str, **values: Any) -> str:
        values = {k: v for k, v in values.items() if not k.startswith("_")}
        return adapter.build(endpoint, values)

    context.setdefault("doc_settings", docs.get_settings())
    context.setdefault("back_url", "")
    context.setdefault("pdf_url", "")
    return render_template(template, pdf=True, url_for=url_for, **context)


def render_pdfs(htmls: list[str]) -> bytes:
    """One PDF of several documents, each from a new page (as services.documents.render_pdf renders one)."""
    if len(htmls) == 1:
        return docs.render_pdf(htmls[0])
    import weasyprint

    fetcher = docs._StaticFetcher(
        current_app.static_folder or "static", current_app.static_url_path or "/static"
    )
    rendered = [
        weasyprint.HTML(
            string=html, base_url="http://hallscore.invalid/", url_fetcher=fetcher, media_type="print"
        ).render()
        for html in htmls
    ]
    return rendered[0].copy([page for document in rendered for page in document.pages]).write_pdf()


KINDS: dict[str, Kind] = {
    YEAR_DETAILS: Kind(_EXPORT_ROLES, XLSX, _year, _title_year_details, _build_year_details),
    INCIDENTS: Kind(_EXPORT_ROLES, XLSX, _check_incidents, _title_incidents, _build_incidents),
    TALLIES: Kind(_EXPORT_ROLES, XLSX, _year, _title_tallies, _build_tallies),
    MONTH_DETAILS: Kind(_STAFF_ROLES, PDF, _check_month_details, _title_month_details, _build_month_details),
    HONOR_LETTERS: Kind(_EXPORT_ROLES, PDF, _check_honor_letters, _title_honor_letters, _build_honor_letters),
}


# ---------------------------------------------------------------- the job's work


class _Throttled:
    """The job's progress, written at most every _PROGRESS_EVERY seconds (and always at a stage's start)."""

    def __init__(self, progress: Callable):
        self.progress = progress
        self.last = 0.0

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if 0 < done < total and now - self.last < _PROGRESS_EVERY:
            return
        self.last = now
        self.progress(done, total, message)


def run(progress, kind: str, params: dict) -> dict:
    """The work of an export job (module level: an RQ worker imports it by name): the file into EXPORT_DIR,
    the earlier file of the same export by the same user removed; returns what the job page shows."""
    spec = KINDS[kind]
    params = spec.check(dict(params))  # again: the month or roll may have changed since it was asked
    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    clean_old_files()
    job_id = progress.job_id
    extension, mimetype = spec.file
    name = f"{job_id}-{secrets.token_hex(16)}.{extension}"
    part = folder / f".{name}.part"
    try:
        built = spec.build(part, params, _Throttled(progress))
        os.replace(part, folder / name)  # whole or not at all, for a server reading the shared folder
    except Exception as error:
        part.unlink(missing_ok=True)
        if isinstance(error, DomainError) or type(error).__name__ == "JobTimeoutException":
            raise
        raise RuntimeError(_("生成文件时出错(%(what)s),请重新运行", what=type(error).__name__)) from error
    db.session.commit()
    job = db.session.get(Job, job_id)
    earlier = db.session.scalars(
        select(Job).where(
            Job.kind == kind, Job.created_by_id == job.created_by_id, Job.status == "done", Job.id < job_id
        )
    )
    for old in earlier:
        if params_of(old) == params:
            _remove(old)  # replaced by this one
    size = (folder / name).stat().st_size
    return {
        "file": name,
        "filename": built.filename,
        "ascii_name": built.ascii_name,
        "mimetype": mimetype,
        "size": size,
        "count": built.count,
        "text": built.text,
    }
