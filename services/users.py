"""User accounts an admin keeps: create, change role/unit/active, reset a password.

The rules live here, not in the forms, so the CLI and the pages refuse the same things: usernames are
unique, a unit user belongs to exactly one unit and no other role does, passwords have at least
`MIN_PASSWORD` characters, and an admin can neither deactivate nor demote themself (the hall must never
lock its last admin out by a slip of the mouse).
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Role, Unit, User, db
from services import DomainError
from services.audit import record

MIN_PASSWORD = 8
ROLES = tuple(r.value for r in Role)
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def user_dict(user: User) -> dict:
    """What the audit log keeps of a user (never the password hash)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "unit": user.unit.code if user.unit else None,
        "active": user.active,
    }


def by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.role, User.username)))


def _check_password(password: str | None) -> str:
    if not password or len(password) < MIN_PASSWORD:
        raise DomainError(_("密码至少 %(n)d 位", n=MIN_PASSWORD))
    return password


def _check_role_unit(role: str | None, unit: Unit | None) -> None:
    if role not in ROLES:
        raise DomainError(
            _("角色 %(role)s 无效,应为:%(roles)s", role=role or _("(未填)"), roles="、".join(ROLES))
        )
    if role == Role.UNIT and unit is None:
        raise DomainError(_("单位用户必须选择所属单位"))
    if role != Role.UNIT and unit is not None:
        raise DomainError(_("只有单位用户可以选择所属单位"))


def check_new_user(username: str, role: str | None, unit: Unit | None) -> str:
    """Refuse what `create_user` would refuse before its password is asked for; returns the username as
    it will be stored. Usernames are unique without regard to case (`ADMIN` beside `admin` is refused)."""
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise DomainError(_("用户名须为 2 至 64 位字母、数字或 _ . @ -"))
    if by_username(username) is not None:
        raise DomainError(_("用户名 %(name)s 已存在", name=username))
    _check_role_unit(role, unit)
    return username


def create_user(username: str, display_name: str, role: str, unit: Unit | None, password: str) -> User:
    """The one way to add a user, for the users page and the CLI's create-user alike."""
    username = check_new_user(username, role, unit)
    user = User(
        username=username, display_name=(display_name or "").strip()[:60], role=role, unit=unit, active=True
    )
    user.set_password(_check_password(password))
    db.session.add(user)
    db.session.flush()
    record("user.create", f"user:{user.id}", after=user_dict(user))
    return user


def update_user(
    user: User,
    *,
    display_name: str,
    role: str,
    unit: Unit | None,
    active: bool,
    acting: User | None,
) -> User:
    """Change a user's name, role, unit and active flag; an admin may not lock themself out."""
    _check_role_unit(role, unit)
    if acting is not None and acting.id == user.id:
        if not active:
            raise DomainError(_("不能停用自己的账号"))
        if role != Role.ADMIN:
            raise DomainError(_("不能取消自己的管理员角色"))
    before = user_dict(user)
    user.display_name = (display_name or "").strip()[:60]
    user.role = role
    user.unit = unit
    user.active = bool(active)
    db.session.flush()
    after = user_dict(user)
    if after != before:
        record("user.update", f"user:{user.id}", before=before, after=after)
    return user


def reset_password(user: User, password: str) -> None:
    user.set_password(_check_password(password))
    db.session.flush()
    # The audit row says that it changed, never what it became.
    record("user.password_reset", f"user:{user.id}", after={"username": user.username})
