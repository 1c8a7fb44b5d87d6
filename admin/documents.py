"""Official documents: the settings (issuing office, 文号 prefix), template helpers, the page-or-PDF helper.

`document_page(template, filename=..., **context)` is what a document's view returns: the HTML page (prints
from the browser) or, on a `.pdf` route or `?format=pdf`, the PDF of the same template (WeasyPrint).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length

from admin import bp
from auth.access import role_required
from models import Role, db
from services import DomainError
from services import documents as docs
from services.clock import hall_today


@bp.app_template_filter("chinese_date")
def chinese_date_filter(day: date | None) -> str:
    return docs.chinese_date(day) if day else ""


def wants_pdf(as_pdf: bool = False) -> bool:
    return as_pdf or request.args.get("format") == "pdf"


def document_page(template: str, *, filename: str, as_pdf: bool = False, **context: Any):
    """The document's HTML page, or the PDF download of the same template (`as_pdf` or ?format=pdf)."""
    pdf = wants_pdf(as_pdf)
    context.setdefault("doc_settings", docs.get_settings())
    html = render_template(template, pdf=pdf, **context)
    if pdf:
        return docs.pdf_response(html, filename, base_url=request.url_root)
    return html


class DocumentSettingsForm(FlaskForm):
    office = StringField(
        _l("发文机关(红头和落款)"),
        validators=[
            InputRequired(message=_l("请填写发文机关名称")),
            Length(max=docs.MAX_LEN["office"], message=_l("不能超过 40 个字")),
        ],
    )
    prefix = StringField(
        _l("发文字号的机关代字"),
        validators=[
            InputRequired(message=_l("请填写发文字号的机关代字")),
            Length(max=docs.MAX_LEN["prefix"], message=_l("不能超过 24 个字")),
        ],
    )
    submit = SubmitField(_l("保存"))


@bp.route("/documents/settings", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def document_settings():
    form = DocumentSettingsForm()
    status = 200
    if form.validate_on_submit():
        try:
            docs.save_settings(form.office.data, form.prefix.data)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("公文设置已保存"), "success")
            return redirect(url_for("admin.document_settings"))
    if form.is_submitted():
        status = 422
    else:
        current = docs.get_settings()
        form.office.data = current["office"]
        form.prefix.data = current["prefix"]
    example = docs.format_number(form.prefix.data or docs.DEFAULTS["prefix"], hall_today().year, 11)
    return render_template("documents/settings.html", form=form, example=example), status
