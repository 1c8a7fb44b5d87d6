"""Imports in the browser (admin): upload a file, see a preview and every bad row (nothing written), then
confirm; the confirmed import runs through services.jobs with a progress fragment.

Between the two steps the upload waits in IMPORT_DIR (config.py: a folder every app server shares, as the
confirmation may reach another server than the preview) under a random token, not in the session cookie
(files are far bigger than a cookie). Uploads older than a day are removed.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import date, datetime
from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp
from admin.forms import ActionForm, ImportForm
from admin.views import job_progress, start_job
from auth.access import role_required
from htmx import is_htmx, render_block, render_page_or_block
from models import Job, Role, db
from security import int_arg
from services import DomainError, imports
from services.clock import to_hall

TEMPLATE = "admin/import_page.html"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
PREVIEW_ROWS = 20
KEEP_SECONDS = 24 * 3600


def _folder() -> Path:
    folder = Path(current_app.config["IMPORT_DIR"])  # shared by the app servers (config.py)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _clean_old(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # another worker removed it first


def _store(kind: str, filename: str, data: bytes) -> str:
    folder = _folder()
    _clean_old(folder)
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.data").write_bytes(data)
    meta = {"kind": kind, "filename": filename, "user_id": current_user.id}
    (folder / f"{token}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return token


def _load(token: str) -> tuple[dict, bytes] | None:
    if not TOKEN_RE.match(token):
        return None
    folder = _folder()
    try:
        meta = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
        data = (folder / f"{token}.data").read_bytes()
    except (OSError, ValueError):
        return None
    if meta.get("user_id") != current_user.id or meta.get("kind") not in imports.KINDS:
        return None
    return meta, data


def _discard(token: str) -> None:
    for suffix in (".json", ".data"):
        try:
            (_folder() / f"{token}{suffix}").unlink()
        except OSError:
            pass


def shown(value) -> str:
    """A parsed value as the preview shows it (hall time for datetimes)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, datetime):
        value = to_hall(value) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _page(form: ImportForm, status: int = 200, **context):
    context.setdefault("job", None)
    return render_page_or_block(
        TEMPLATE,
        "import_result",
        form=form,
        kinds=imports.KIND_LABELS,
        columns=imports.COLUMNS,
        shown=shown,
        action=ActionForm(formdata=None),
        job_progress=job_progress,
        **context,
    ), status


@bp.route("/import", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def import_page():
    """Step 1: upload and preview. Nothing is written here."""
    form = ImportForm()
    if request.method == "GET":
        job_id = int_arg("job")
        job = db.session.get(Job, job_id) if job_id else None
        return _page(form, job=job if job is not None and job.kind == "import" else None)
    if not form.validate_on_submit():
        return _page(form, 422)
    upload = form.file.data
    data = upload.read()
    kind, filename = form.kind.data, upload.filename or "upload.csv"
    try:
        table = imports.read_table(filename, data)
        result = imports.parse(kind, table)
    except imports.ImportRejected as rejected:
        db.session.rollback()
        return _page(
            form, 422, kind=kind, filename=filename, errors=rejected.errors, raw=[], records=[], total=0
        )
    except DomainError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _page(form, 422)
    db.session.rollback()  # parsing only reads; make sure nothing it touched is kept
    raw = list(zip(table.row_numbers or range(2, len(table) + 2), table, strict=False))[:PREVIEW_ROWS]
    token = None if result.errors else _store(kind, filename, data)
    return _page(
        form,
        422 if result.errors else 200,
        kind=kind,
        filename=filename,
        errors=result.errors,
        records=result.records[:PREVIEW_ROWS],
        raw=raw,
        total=len(table),
        valid=len(result.records),
        skipped=result.skipped,
        notes=imports.notes_text({**result.notes, "skipped": result.skipped}) if not result.errors else [],
        token=token,
        file_columns=table.columns,
    )


def _import_work(kind: str, filename: str, data: bytes, progress=None) -> dict:
    try:
        summary = imports.import_file(kind, filename, data, progress=progress)
    except imports.ImportRejected as rejected:
        db.session.rollback()
        return {"kind": kind, "rejected": [str(e) for e in rejected.errors]}
    db.session.commit()
    summary["text"] = imports.summary_text(summary, notes=False)
    summary["notes"] = imports.notes_text(summary)
    return summary


@bp.route("/import/<token>", methods=["POST"])
@role_required(Role.ADMIN)
def import_confirm(token: str):
    """Step 2: apply the previewed file, in the background with a progress fragment."""
    loaded = _load(token)
    if loaded is None:
        flash(_("上传的文件已失效,请重新上传"), "error")
        return redirect(url_for("admin.import_page"))
    meta, data = loaded
    _discard(token)  # one confirmation per upload: a double click must not import twice
    job = start_job("import", current_user.id, _import_work, meta["kind"], meta["filename"], data)
    if is_htmx():
        return render_block(
            TEMPLATE, "import_result", job=job, job_progress=job_progress, kinds=imports.KIND_LABELS
        )
    return redirect(url_for("admin.import_page", job=job.id))


@bp.route("/import/jobs/<int:job_id>")
@role_required(Role.ADMIN)
def import_progress(job_id: int):
    job = db.get_or_404(Job, job_id)
    if job.kind != "import":
        abort(404)
    html = render_block(
        TEMPLATE, "import_result", job=job, job_progress=job_progress, kinds=imports.KIND_LABELS
    )
    return html, 286 if job.status != "running" else 200


@bp.route("/import/templates/<kind>.csv")
@role_required(Role.ADMIN)
def import_template(kind: str):
    """A CSV with the exact header and one example row."""
    if kind not in imports.KINDS:
        abort(404)
    return Response(
        imports.template_csv(kind),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={kind}-template.csv"},
    )
