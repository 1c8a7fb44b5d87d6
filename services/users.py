"""User accounts an admin keeps: create, change role/unit/active, reset a password.

The rules live here, not in the forms, so the CLI and the pages refuse the same things: usernames are
unique, a unit user belongs to exactly one unit and no other role does, every password passes
`services.passwords` (the policy), and an admin can neither deactivate nor demote themself (the hall must
never lock its last admin out by a slip of the mouse).

A password an admin chose (a new user, a reset, an import) is temporary: `must_change_password` makes its
holder choose their own at the next login. A new password, a disable or a role change ends every session
the user has open (`User.end_sessions`).
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from models import Role, Unit, User, db
from services import DomainError
from services.audit import record
from services.passwords import MIN_PASSWORD, check_password_policy  # noqa: F401 - the forms read it here

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
    # Each row shows its unit: loaded with the users, not one query per unit user (200 units, 200 queries).
    return list(
        db.session.scalars(select(User).options(joinedload(User.unit)).order_by(User.role, User.username))
    )


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


def create_user(
    username: str,
    display_name: str,
    role: str,
    unit: Unit | None,
    password: str,
    *,
    temporary: bool = True,
) -> User:
    """The one way to add a user, for the users page, the CLI's create-user and the import alike. The
    password is `temporary` (changed at first login) unless its holder chose it (the CLI)."""
    username = check_new_user(username, role, unit)
    user = User(
        username=username,
        display_name=(display_name or "").strip()[:60],
        role=role,
        unit=unit,
        active=True,
        must_change_password=temporary,
    )
    user.set_password(check_password_policy(password, username))
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
    after = user_dict(user)
    # A disabled user is out now, not when their session times out; a new role or unit starts afresh.
    if any(before[key] != after[key] for key in ("role", "unit", "active")):
        user.end_sessions()
    db.session.flush()
    if after != before:
        record("user.update", f"user:{user.id}", before=before, after=after)
    return user


def reset_password(user: User, password: str) -> None:
    """An admin sets a new, temporary password: the user's sessions end, and they choose their own next."""
    user.set_password(check_password_policy(password, user.username))
    user.must_change_password = True
    user.end_sessions()
    db.session.flush()
    # The audit row says that it changed, never what it became.
    record("user.password_reset", f"user:{user.id}", after={"username": user.username})


class WrongPassword(DomainError):
    """The current password given to change it is not the user's."""


def change_own_password(user: User, current: str, new: str) -> None:
    """The user's own new password: the current one must be right; every other session of theirs ends
    (the caller keeps the one it acts in by logging it in again)."""
    if not user.check_password(current or ""):
        raise WrongPassword(_("当前密码不正确"))
    if user.check_password(new or ""):
        raise DomainError(_("新密码不能与当前密码相同"))
    user.set_password(check_password_policy(new, user.username))
    user.must_change_password = False
    user.end_sessions()
    db.session.flush()
    record("user.password", f"user:{user.id}", after={"username": user.username})
