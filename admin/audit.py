"""The audit log (admins and leaders): every change, newest first, filtered and paged by keyset ("更早" /
"更新" from the page's last / first row, never OFFSET) with a count capped at 1000 ("1000+ 条"): counting
2,000,000 rows for a page total cost seconds under load.

It reads in Chinese at display time, so rows written before any wording changed read well too: actions,
fields and coded values through ui's label tables (ACTION_LABELS, FIELD_LABELS, VALUE_LABELS), objects by
name ("用户 刘七(clerk)", "扣分记录 #1168 市税务局 D04a", "月份 2024年3月") through TARGET_LABELS and one
batch of look-ups per page. The stored target ("incident:1168") stays what the filter searches, and is the
object's tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import request
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp
from admin.forms import AuditFilterForm
from auth.access import role_required
from htmx import render_page_or_block
from models import AuditLog, Incident, Role, Staff, Unit, User, db
from page_cache import kept_page
from scoring import RuleKind, parse_month
from security import int_arg
from services.audit import audit_listing
from services.clock import to_hall
from services.dashboard import AuditFilter, audit_actions, audit_users
from services.rulebooks import rulebook_for_month
from ui import TARGET_LABELS, action_label, field_label, value_label

PER_PAGE = 50
# Maps whose keys are ids or names rather than fields: {"S0099": 3} reads "S0099(3)".
COUNTED_MAPS = {"unknown_staff", "inactive_units"}


@dataclass
class Names:
    """What the page's rows name, looked up once per page: users, incidents, staff and units."""

    users: dict[str, User] = field(default_factory=dict)  # by id and by username (older rows)
    incidents: dict[int, Incident] = field(default_factory=dict)
    staff: dict[str, Staff] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    units_by_id: dict[int, Unit] = field(default_factory=dict)
    rulebooks: dict[tuple[int, int], Any] = field(default_factory=dict)

    def unit(self, code: Any) -> str:
        unit = self.units.get(str(code))
        return unit.name if unit else str(code)

    def person(self, staff_id: Any) -> str:
        staff = self.staff.get(str(staff_id))
        return f"{staff.name}({staff.staff_id})" if staff else str(staff_id)

    def incident_kind(self, incident: Incident) -> str:
        at = to_hall(incident.occurred_at)
        key = (at.year, at.month)
        if key not in self.rulebooks:
            self.rulebooks[key] = rulebook_for_month(*key)
        try:
            kind = self.rulebooks[key].rule(incident.rule_code).kind
        except KeyError:
            return _("扣加分记录")
        return _("加分记录") if kind == RuleKind.BONUS else _("扣分记录")


def _split(target: str) -> tuple[str, str]:
    kind, _sep, ident = (target or "").partition(":")
    return kind, ident


def _walk_values(value: Any, key: str = ""):
    """Every (key, scalar) pair in a stored before/after, nested lists and dicts included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_values(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _walk_values(item, key)
    else:
        yield key, value


def load_names(rows: list[AuditLog]) -> Names:
    user_ids, usernames, incident_ids, staff_ids, unit_codes = set(), set(), set(), set(), set()
    for row in rows:
        kind, ident = _split(row.target)
        if kind == "user":
            (user_ids if ident.isdigit() else usernames).add(ident)
        elif kind == "incident" and ident.isdigit():
            incident_ids.add(int(ident))
        elif kind == "staff":
            staff_ids.add(ident)
        elif kind == "unit":
            unit_codes.add(ident)
        for key, value in _walk_values([row.before, row.after]):
            if key == "unit" and isinstance(value, str):
                unit_codes.add(value)
            elif key == "staff" and isinstance(value, str):
                staff_ids.add(value)
    names = Names()
    if user_ids or usernames:
        query = select(User).where(User.id.in_([int(i) for i in user_ids]) | User.username.in_(usernames))
        for user in db.session.scalars(query):
            names.users[str(user.id)] = names.users[user.username] = user
    if incident_ids:
        for incident in db.session.scalars(select(Incident).where(Incident.id.in_(incident_ids))):
            names.incidents[incident.id] = incident
    # Units are few (a hall has tens): all of them, also for the incidents' units.
    if unit_codes or names.incidents:
        names.units = {u.code: u for u in db.session.scalars(select(Unit))}
        names.units_by_id = {u.id: u for u in names.units.values()}
    if staff_ids:
        query = select(Staff).where(Staff.staff_id.in_(staff_ids))
        names.staff = {s.staff_id: s for s in db.session.scalars(query)}
    return names


def target_text(target: str, names: Names) -> str:
    """The object of an audit row as a reader names it; an unknown kind of target shows as stored."""
    if target in TARGET_LABELS:
        return str(TARGET_LABELS[target])
    kind, ident = _split(target)
    if kind not in TARGET_LABELS or not ident:
        return target
    label = str(TARGET_LABELS[kind])
    if kind == "user":
        user = names.users.get(ident)
        if user is None:
            return f"{label} {ident}" if not ident.isdigit() else f"{label} #{ident}"
        shown = user.label if user.label == user.username else f"{user.label}({user.username})"
        return f"{label} {shown}"
    if kind == "incident":
        incident = names.incidents.get(int(ident)) if ident.isdigit() else None
        if incident is None:
            return f"{label} #{ident}"
        unit = names.units_by_id.get(incident.unit_id)
        where = f" {unit.name}" if unit else ""
        return f"{names.incident_kind(incident)} #{incident.id}{where} {incident.rule_code}"
    if kind == "month":
        try:
            year, month = parse_month(ident)
        except ValueError:
            return f"{label} {ident}"
        return f"{label} " + _("%(y)d年%(m)d月", y=year, m=month)
    if kind == "staff":
        return f"{label} {names.person(ident)}"
    if kind == "unit":
        unit = names.units.get(ident)
        return f"{label} {unit.name}({unit.code})" if unit else f"{label} {ident}"
    if kind == "import":
        return f"{label} {value_label('kind', ident)}"
    if kind in ("outage", "warning"):
        return f"{label} #{ident}"
    return f"{label} {ident}"


def value_text(key: str, value: Any, names: Names) -> str:
    """One stored value in Chinese: labels for codes, names for units and staff, nested records spelled
    out field by field."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(value_label(key, value))
    if isinstance(value, dict):
        if key in COUNTED_MAPS:
            return "、".join(f"{k}({v})" for k, v in value.items())
        return ",".join(f"{field_label(k)}:{value_text(str(k), v, names)}" for k, v in value.items())
    if isinstance(value, list):
        separator = ";" if any(isinstance(v, dict) for v in value) else "、"
        return separator.join(value_text(key, v, names) for v in value)
    if key == "unit" and isinstance(value, str):
        return names.unit(value)
    if key == "staff" and isinstance(value, str):
        return names.person(value)
    return str(value_label(key, value))


def changes(before: Any, after: Any, names: Names) -> list[tuple[str, str, str]]:
    """(field, before, after) of what changed, in Chinese. A creation (or removal) lists the fields that
    hold a value; an update only those that changed."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        if before is None and after is None:
            return []
        old = value_text("", before, names) if before is not None else ""
        new = value_text("", after, names) if after is not None else ""
        return [("", old, new)]
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    lines = []
    for key in list(old) + [k for k in new if k not in old]:
        if before is None or after is None:
            value = new.get(key) if before is None else old.get(key)
            if value is None or value == "" or value == [] or value == {}:
                continue
        elif old.get(key) == new.get(key):
            continue
        lines.append((field_label(key), _side(key, old.get(key), names), _side(key, new.get(key), names)))
    return lines


def _side(key: str, value: Any, names: Names) -> str:
    """One side of a change; an empty side says nothing (a field filled in reads as an insertion)."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    return value_text(key, value, names)


@dataclass
class AuditLine:
    row: AuditLog
    target: str
    changes: list[tuple[str, str, str]]


@bp.route("/audit")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def audit_list():
    form = AuditFilterForm(request.args)
    form.action.choices = [("", "—")] + [(a, action_label(a)) for a in audit_actions()]
    form.user.choices = [(0, "—")] + [(u.id, u.label) for u in audit_users()]
    valid = form.validate()
    filters = AuditFilter()
    if valid:
        filters = AuditFilter(
            action=form.action.data or "",
            user_id=form.user.data or None,
            target=(form.target.data or "").strip(),
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    listing = audit_listing(filters, before=int_arg("before"), after=int_arg("after"), per_page=PER_PAGE)
    rows = listing.rows
    names = load_names(rows)
    lines = [
        AuditLine(row, target_text(row.target, names), changes(row.before, row.after, names)) for row in rows
    ]
    args = {k: v for k, v in request.args.items() if k not in ("page", "before", "after") and v}
    return render_page_or_block(
        "admin/audit_list.html",
        "audit_rows",
        form=form,
        lines=lines,
        listing=listing,
        paged=bool(int_arg("before") or int_arg("after")),
        args=args,
    ), 200 if valid else 422
