"""Rulebooks: the versions, one version readable as a page, and a new version based on one (admin only).

A new version is a full copy of its base with the admin's points, flags, settings and effective date; it
is validated by the scoring (a RulebookError's Chinese message goes back to the form) and published by
`services.rulebooks.publish_version`, which dates it on the first day of a month after the current one:
changing a rule never changes the past.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin import bp
from admin.forms import SETTING_LABELS, rulebook_form_class, setting_label, setting_text
from auth.access import STAFF_ROLES, role_required
from models import Role, db
from page_cache import kept_page
from scoring import ROLE_SETTINGS, RulebookError, Settings, rulebook_to_dict, signed_points
from services import DomainError
from services.clock import hall_today
from services.rulebooks import (
    as_rulebook,
    by_key,
    current_rulebook,
    first_allowed_day,
    publish_version,
    version_in_force,
    versions,
)
from ui import FLAG_LABELS

APPLIES_LABELS = {"W": _l("值守窗口人员"), "C": _l("综窗后场人员"), "A": _l("全体")}
REQUIRES_LABELS = {
    "deadline": _l("须填整改期限"),
    "exempt": _l("可免扣(设备或网络故障)"),
    "linked": _l("须关联所附加的违规记录"),
}


@bp.app_template_global("role_code")
def role_code(role: str) -> str:
    """The code the rulebook in force gives a rule role, for texts (e.g. "逾期未整改将另扣 D19b")."""
    return current_rulebook().role_code(role) or "—"


def grouped_rules(rulebook) -> list[tuple[str, list]]:
    """The rules under their headings, in the rulebook's order."""
    groups: dict[str, list] = {}
    for rule in rulebook.rules:
        groups.setdefault(rule.group or _("其他"), []).append(rule)
    return list(groups.items())


def _version_or_404(key: str):
    row = by_key(key)
    if row is None:
        abort(404)
    return row


@bp.route("/rulebooks")
@role_required(*STAFF_ROLES)
@kept_page
def rulebook_list():
    in_force = version_in_force(hall_today())
    return render_template("admin/rulebook_list.html", rows=versions(), in_force=in_force)


@bp.route("/rulebooks/<key>")
@role_required(*STAFF_ROLES)
@kept_page
def rulebook_detail(key: str):
    row = _version_or_404(key)
    rulebook = as_rulebook(row)
    settings = []
    for name in Settings.__dataclass_fields__:
        value = getattr(rulebook.settings, name)
        if name in ROLE_SETTINGS:
            rule = rulebook.role_rule(name)
            shown = f"{rule.code} {rule.title}" if rule else _("无")
        elif name.endswith("_flag"):
            shown = FLAG_LABELS.get(value, value)
        else:
            shown = setting_text(name, value)
        settings.append((setting_label(name, rulebook), shown))
    return render_template(
        "admin/rulebook_detail.html",
        row=row,
        rulebook=rulebook,
        groups=grouped_rules(rulebook),
        settings=settings,
        signed={rule.code: signed_points(rule) for rule in rulebook.rules},
        roles={
            rulebook.role_code(name): SETTING_LABELS[name]
            for name in ROLE_SETTINGS
            if rulebook.role_code(name)
        },
        applies_labels=APPLIES_LABELS,
        requires_labels=REQUIRES_LABELS,
        in_force=version_in_force(hall_today()),
    )


@bp.route("/rulebooks/<key>/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@kept_page
def rulebook_new(key: str):
    """A new version based on `key`: every points box, flag box and setting starts from the base."""
    base_row = _version_or_404(key)
    base = as_rulebook(base_row)
    form = rulebook_form_class(base)()
    if request.method == "GET":
        # A sensible start: the base's title, effective from the first date a new version may take.
        form.title.data = base.title
        form.effective_from.data = first_allowed_day()
    if form.validate_on_submit():
        try:
            # From the base as read (a version stored before rule roles reads with the 2023 codes).
            data = form.to_dict(rulebook_to_dict(base))
            row = publish_version(data, created_by_id=current_user.id)
        except (RulebookError, DomainError, ValueError) as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(
                _(
                    "已发布考核细则 %(key)s,自 %(day)s 起生效",
                    key=row.key,
                    day=row.effective_from.isoformat(),
                ),
                "success",
            )
            return redirect(url_for("admin.rulebook_detail", key=row.key))
    return render_template(
        "admin/rulebook_form.html",
        form=form,
        base=base,
        base_row=base_row,
        groups=grouped_rules(base),
        first_day=first_allowed_day(),
    ), 422 if form.errors else 200
