"""Backup and restore: every table as JSON (and the evidence files), portable between SQLite and PostgreSQL.

A backup is a zip holding `backup.json` and `evidence/<stored name>` files, or, when the file name ends in
`.json`, the JSON alone. The JSON names its format, the schema revision and every table's columns; values
are plain JSON (datetimes as ISO 8601 in UTC, dates as YYYY-MM-DD), so a dump from one database restores
into the other. `restore` checks the whole file before touching anything, then replaces all the data in
one transaction; a bad or foreign file is refused with a Chinese message.

Files and rows change together: the backup's files are first written into a staging folder inside the
evidence folder; only once the database has committed are they moved into place and the files the replaced
data named (and nothing restored names) removed. A restore that fails at any point before that commit leaves
the old rows and the old files as they were.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import zipfile
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Table, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from models import UTCDateTime, db
from services import DomainError
from services.audit import record
from services.clock import utc_now

FORMAT = "hallscore-backup"
VERSION = 1
JSON_NAME = "backup.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


class BackupError(DomainError):
    """The backup file cannot be restored; nothing was changed."""


def _revision() -> str | None:
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        db.session.rollback()
        return None


def _tables() -> list[Table]:
    return list(db.metadata.sorted_tables)


def _dump_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def dump() -> dict:
    """Every row of every table as JSON-ready values."""
    tables: dict[str, dict] = {}
    for table in _tables():
        columns = [c.name for c in table.columns]
        order = [c for c in table.primary_key.columns] or list(table.columns)[:1]
        rows = db.session.execute(select(table).order_by(*order)).all()
        tables[table.name] = {"columns": columns, "rows": [[_dump_value(v) for v in row] for row in rows]}
    return {
        "format": FORMAT,
        "version": VERSION,
        "revision": _revision(),
        "created_at": _dump_value(utc_now()),
        "tables": tables,
    }


def _evidence_dir() -> Path:
    return Path(current_app.config["EVIDENCE_DIR"])


def backup(path: str | Path) -> dict:
    """Write the backup file; returns {"tables": N, "rows": N, "files": N, "missing_files": N}."""
    path = Path(path)
    data = dump()
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    rows = sum(len(t["rows"]) for t in data["tables"].values())
    files = missing = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_bytes(payload)
        missing = len(_stored_names(data))  # the files are not in a .json backup
        return {
            "tables": len(data["tables"]),
            "rows": rows,
            "files": 0,
            "missing_files": missing,
            "format": "json",
        }
    stored = _stored_names(data)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(JSON_NAME, payload)
        folder = _evidence_dir()
        for name in stored:
            source = folder / name
            if _SAFE_NAME.match(name) and source.is_file():
                archive.write(source, f"evidence/{name}")
                files += 1
            else:
                missing += 1
    return {
        "tables": len(data["tables"]),
        "rows": rows,
        "files": files,
        "missing_files": missing,
        "format": "zip",
    }


# Every table whose rows name a file in the evidence folder: incident photos, notice answers' attachments,
# and the files of appeals, rectification reports and bonus claims.
FILE_TABLES = ("evidence", "notice_attachment", "request_file")


def _stored_names(data: dict) -> list[str]:
    names: list[str] = []
    for name in FILE_TABLES:
        table = data["tables"].get(name)
        if not table or "stored_name" not in table["columns"]:
            continue
        at = table["columns"].index("stored_name")
        names += [row[at] for row in table["rows"] if isinstance(row[at], str)]
    return list(dict.fromkeys(names))  # an approved claim's photos are its bonus incident's evidence too


def read(raw: bytes) -> tuple[dict, dict[str, bytes]]:
    """The backup's JSON and its evidence files; a file that is not a hallscore backup raises BackupError."""
    files: dict[str, bytes] = {}
    if not raw:
        raise BackupError("备份文件是空的")
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = archive.namelist()
                if JSON_NAME not in names:
                    raise BackupError("这不是本系统的备份文件:压缩包中没有 backup.json")
                payload = archive.read(JSON_NAME)
                for name in names:
                    if name.startswith("evidence/") and _SAFE_NAME.match(name[len("evidence/") :]):
                        files[name[len("evidence/") :]] = archive.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError) as error:
            raise BackupError("备份文件已损坏,无法读取") from error
    else:
        payload = raw
    try:
        data = json.loads(payload.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BackupError("这不是本系统的备份文件(内容不是有效的 JSON 或压缩包)") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError("这不是本系统的备份文件(缺少 hallscore-backup 标记)")
    if data.get("version") != VERSION:
        raise BackupError(f"备份文件格式版本 {data.get('version')} 不受支持(本系统支持版本 {VERSION})")
    if not isinstance(data.get("tables"), dict):
        raise BackupError("备份文件已损坏:缺少数据表")
    return data, files


def _load_value(column, value: Any, where: str) -> Any:
    """A JSON value back into the column's Python type; wrong types raise BackupError naming the place."""
    if value is None:
        if not column.nullable and not column.primary_key:
            raise BackupError(f"备份文件已损坏:{where} 不能为空")
        return None
    kind = column.type
    try:
        if isinstance(kind, UTCDateTime):
            parsed = datetime.fromisoformat(str(value).removesuffix("Z"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        if isinstance(kind, DateTime):
            return datetime.fromisoformat(str(value).removesuffix("Z")).replace(tzinfo=None)
        if isinstance(kind, Date):
            return date.fromisoformat(value)
        if isinstance(kind, Boolean):
            if not isinstance(value, bool):
                raise TypeError(value)
            return value
        if isinstance(kind, Integer):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(value)
            return value
        if isinstance(kind, JSON):
            return value
        if not isinstance(value, str):
            raise TypeError(value)
        return value
    except (TypeError, ValueError) as error:
        raise BackupError(f"备份文件已损坏:{where} 的值 {str(value)[:40]!r} 无效") from error


def _prepare(data: dict) -> dict[str, list[dict]]:
    """Every row converted and checked against the current schema, before anything is deleted."""
    tables = {t.name: t for t in _tables()}
    given = data["tables"]
    unknown = sorted(set(given) - set(tables))
    if unknown:
        raise BackupError(f"备份文件与当前数据库结构不符:未知的数据表 {'、'.join(unknown)}")
    missing = sorted(set(tables) - set(given))
    if missing:
        raise BackupError(f"备份文件与当前数据库结构不符:缺少数据表 {'、'.join(missing)}")
    prepared: dict[str, list[dict]] = {}
    for name, table in tables.items():
        block = given[name]
        if not isinstance(block, dict) or not isinstance(block.get("rows"), list):
            raise BackupError(f"备份文件已损坏:数据表 {name} 的格式不对")
        columns = block.get("columns")
        if columns != [c.name for c in table.columns]:
            raise BackupError(f"备份文件与当前数据库结构不符:数据表 {name} 的列不同(请用同一版本的系统恢复)")
        rows = []
        for number, row in enumerate(block["rows"], start=1):
            if not isinstance(row, list) or len(row) != len(columns):
                raise BackupError(f"备份文件已损坏:数据表 {name} 第 {number} 行的列数不对")
            rows.append(
                {
                    col.name: _load_value(col, value, f"{name} 第 {number} 行 {col.name}")
                    for col, value in zip(table.columns, row, strict=True)
                }
            )
        prepared[name] = rows
    return prepared


def restore_bytes(raw: bytes) -> dict:
    """Replace all data with the backup's, in the session's transaction (the caller commits, then calls
    `finish_restore(result)`, or `abandon_restore(result)` if the commit fails).

    On any problem the session is rolled back and BackupError raised: the database and files are unchanged.
    """
    data, files = read(raw)
    revision = _revision()
    if data.get("revision") and revision and data["revision"] != revision:
        raise BackupError(
            f"备份文件的数据库版本({data['revision']})与当前数据库版本({revision})不同;"
            "请先用 init-db 升级,或使用相同版本的系统恢复"
        )
    prepared = _prepare(data)
    tables = _tables()
    staging = _stage_files(files)
    try:
        for table in reversed(tables):
            db.session.execute(table.delete())
        for table in tables:
            rows = prepared[table.name]
            if not rows:
                continue
            # Rows that point at rows of their own table (a D15 at its violation) are linked afterwards,
            # so the order of the rows never matters.
            self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
            pending = []
            if self_refs:
                for row in rows:
                    links = {c: row[c] for c in self_refs if row[c] is not None}
                    if links:
                        pending.append((row["id"], links))
                rows = [{**row, **{c: None for c in self_refs}} for row in rows]
            for i in range(0, len(rows), 1000):
                db.session.execute(table.insert(), rows[i : i + 1000])
            for pk, links in pending:
                db.session.execute(update(table).where(table.c.id == pk).values(**links))
        _reset_sequences(tables)
        record(
            "backup.restore",
            "database",
            after={
                "created_at": data.get("created_at"),
                "rows": sum(len(r) for r in prepared.values()),
            },
        )
        db.session.flush()
    except SQLAlchemyError as error:
        db.session.rollback()
        _remove_staging(staging)
        raise BackupError(
            f"恢复失败,数据库未改变:备份中的数据不一致({type(error.orig or error).__name__})"
        ) from error
    except BaseException:
        db.session.rollback()
        _remove_staging(staging)
        raise
    return {
        "tables": len(tables),
        "rows": sum(len(r) for r in prepared.values()),
        "files": len(files),
        "staging": str(staging) if staging else None,
        "keep": _stored_names(data),
    }


def restore(path: str | Path) -> dict:
    """Restore a backup file and commit: rows and files together, or nothing at all."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path}")
    result = restore_bytes(path.read_bytes())
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        abandon_restore(result)
        raise
    finish_restore(result)
    return result


def _stage_files(files: dict[str, bytes]) -> Path | None:
    """Write the backup's files into a hidden folder in the evidence folder (same disk: moves are renames)."""
    if not files:
        return None
    folder = _evidence_dir()
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".restore-{secrets.token_hex(8)}"
    staging.mkdir()
    try:
        for name, content in files.items():
            (staging / name).write_bytes(content)
    except BaseException:
        _remove_staging(staging)
        raise
    return staging


def _remove_staging(staging: Path | None) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)


def abandon_restore(result: dict) -> None:
    """The restore's transaction did not commit: drop its staged files, the old ones stay."""
    _remove_staging(Path(result["staging"]) if result.get("staging") else None)


def finish_restore(result: dict) -> None:
    """After the commit: move the backup's files into place and remove the files nothing names any more
    (the replaced data's), so the evidence folder holds exactly the restored data's files."""
    folder = _evidence_dir()
    staging = Path(result["staging"]) if result.get("staging") else None
    if staging is not None:
        for source in staging.iterdir():
            os.replace(source, folder / source.name)
        _remove_staging(staging)
    keep = set(result.get("keep") or [])
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if (
            path.is_file()
            and _SAFE_NAME.match(path.name)
            and not path.name.startswith(".")
            and path.name not in keep
        ):
            path.unlink(missing_ok=True)


def _reset_sequences(tables: list[Table]) -> None:
    """PostgreSQL keeps its own counters for ids; after inserting explicit ids they must move past them."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        if "id" not in table.c or not isinstance(table.c.id.type, Integer) or not table.c.id.primary_key:
            continue
        sequence = db.session.execute(
            text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": f'"{table.name}"'}
        ).scalar()
        if not sequence:
            continue
        top = db.session.execute(select(func.max(table.c.id))).scalar()
        db.session.execute(
            text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
            {"s": sequence, "v": top or 1, "called": top is not None},
        )
