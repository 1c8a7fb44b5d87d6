"""Users: `username,role,unit_code`. Each row adds a new user with a one-time password.

Setting up a hall of 30 units is one file instead of 30 forms. Every row goes through
`services.users.check_new_user` (the users page's rules: a free username, a valid role, a unit for a unit
user and none for anyone else) and is written with `create_user`, the page's own service. All or nothing:
a bad row, or a username that exists, refuses the whole file with nothing written.

Each new user gets a random one-time password (`services.passwords.one_time_password`), flagged
`must_change_password`. The passwords are returned once, to be shown once to the admin who imported the
file; only their hashes are stored, and neither the audit log nor the job table ever holds them. That is
why this kind is not run as a background job like the others (a job keeps its result to show later): the
users page runs it in the request, which is quick at a few hundred rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from models import Role, Unit, db
from services import DomainError
from services.audit import record
from services.imports.cells import ParseResult, Rows, check_columns
from services.imports.reading import ImportRejected, RowError, cell_text, read_table

COLUMNS = ("username", "role", "unit_code")
LABEL = "用户"
EXAMPLE = ("sw-window", "unit", "SW01")
MAX_ROWS = 500  # a hall has a few hundred users; a bigger file is a mistake, not a hall

# The role column takes the code or its Chinese name, as the users page shows it.
ROLE_NAMES = {
    "管理员": Role.ADMIN.value,
    "巡查员": Role.INSPECTOR.value,
    "局领导": Role.LEADER.value,
    "单位用户": Role.UNIT.value,
}


@dataclass(frozen=True)
class Credential:
    """One new user and the one-time password to hand them: shown once, never stored as it is."""

    username: str
    role: str
    unit_name: str
    password: str


def _role(text: str) -> str:
    text = text.strip()
    return ROLE_NAMES.get(text, text.lower())


def parse(it: Rows, result: ParseResult) -> None:
    """Each row checked by the users page's rules against the users and units held; writes nothing."""
    from services.users import check_new_user

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    seen: dict[str, int] = {}
    for number, row in it:
        username = cell_text(row.get("username"))
        role = _role(cell_text(row.get("role")))
        code = cell_text(row.get("unit_code"))
        unit = units.get(code) if code else None
        if code and unit is None:
            it.error("unit_code", code, f"单位代码 {code} 不存在")
            continue
        if code and not unit.active:
            it.error("unit_code", code, f"单位 {unit.name} 已停用")
            continue
        key = username.lower()
        if key and key in seen:
            it.error("username", username, f"用户名 {username} 与第{seen[key]}行重复")
            continue
        try:
            username = check_new_user(username, role, unit)
        except DomainError as error:
            message = str(error)
            column = "role" if "角色" in message else "unit_code" if "单位" in message else "username"
            it.error(column, row.get(column), message)
            continue
        seen[key] = number
        result.records.append({"row": number, "username": username, "role": role, "unit": unit})


def check_file(filename: str, data: bytes) -> list[dict]:
    """The file's rows as new users to create, or ImportRejected listing every problem (nothing written)."""
    rows = read_table(filename, data)
    errors = check_columns(COLUMNS, LABEL, rows)
    if errors:
        raise ImportRejected(errors)
    if not rows:
        raise ImportRejected([RowError(0, "", "", "文件中没有数据行(只有表头)")])
    if len(rows) > MAX_ROWS:
        raise ImportRejected([RowError(0, "", "", f"一次最多导入 {MAX_ROWS} 个用户,本文件有 {len(rows)} 行")])
    it = Rows(rows)
    for number, row in zip(it.numbers, rows, strict=True):
        if row.get(None):
            it.errors.append(RowError(number, "", "", f"本行比表头多出 {len(row[None])} 个单元格"))
    result = ParseResult("users")
    parse(it, result)
    if it.errors:
        raise ImportRejected(
            sorted(
                it.errors,
                key=lambda e: (e.row_number, COLUMNS.index(e.column) if e.column in COLUMNS else -1),
            )
        )
    return result.records


def import_users(filename: str, data: bytes) -> list[Credential]:
    """Create every user of the file, each with a one-time password; the caller commits and shows the
    returned credentials once. Raises ImportRejected (nothing written) when anything is wrong."""
    from services.passwords import one_time_password
    from services.users import create_user

    records = check_file(filename, data)
    credentials = []
    for rec in records:
        password = one_time_password()
        try:
            user = create_user(rec["username"], "", rec["role"], rec["unit"], password, temporary=True)
        except DomainError as error:  # changed meanwhile by another admin: the whole file again
            db.session.rollback()
            raise ImportRejected([RowError(rec["row"], "", "", str(error))]) from error
        credentials.append(
            Credential(user.username, user.role, rec["unit"].name if rec["unit"] else "", password)
        )
    # The audit row names who was added, never a password.
    record("import.users", "import:users", after={"rows": len(records), "created": len(credentials)})
    db.session.flush()
    return credentials
