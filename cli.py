"""Click commands (flask --app app …): parse arguments, call a service, print. The only place that prints.

Every command answers in Chinese; a bad argument or a refused change prints "错误:…" on stderr and exits
with a non-zero code, never a traceback. Each command commits once, after its service calls succeed.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from models import Role, Unit, db
from services import DomainError
from services.rulebooks import ensure_shipped
from ui import FLAG_LABELS, GRADE_LABELS, ROLE_LABELS, STATUS_LABELS

log = logging.getLogger(__name__)


class CliError(click.ClickException):
    """A Chinese error line on stderr and exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"错误:{self.format_message()}", err=True)


def handled(command: Callable) -> Callable:
    """Turn every failure into a Chinese message and a non-zero exit, with the session rolled back."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException):
            db.session.rollback()
            raise
        except click.Abort:
            db.session.rollback()
            raise CliError("已取消") from None
        except DomainError as error:
            db.session.rollback()
            raise CliError(str(error)) from None
        except SQLAlchemyError as error:
            db.session.rollback()
            log.debug("database error", exc_info=True)
            raise CliError(f"数据库错误(数据库是否已用 init-db 初始化?):{_first_line(error)}") from None
        except OSError as error:
            db.session.rollback()
            raise CliError(f"文件读写失败:{error.strerror or error}({error.filename or ''})") from None
        except Exception as error:  # never a traceback on the operator's terminal; the log keeps it
            db.session.rollback()
            log.debug("unexpected error", exc_info=True)
            raise CliError(f"意外错误:{type(error).__name__}: {error}") from None

    return wrapper


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__


def parse_month_arg(text: str | None, how: str = "用 --month YYYY-MM ") -> tuple[int, int]:
    from scoring import parse_month

    if not text:
        raise CliError(f"请{how}指定月份(如 2024-03)")
    try:
        return parse_month(text)
    except ValueError as error:
        raise CliError(str(error)) from None


# ---------------------------------------------------------------- CJK-aware table


def text_width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int, align: str = "<") -> str:
    gap = max(0, width - text_width(text))
    return (" " * gap + text) if align == ">" else (text + " " * gap)


def format_table(headers: list[str], rows: list[list[str]], align: str) -> str:
    widths = [max(text_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [pad(str(cell), widths[i], align[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if row is headers:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------- progress


class ProgressPrinter:
    """Prints "进度 done/total (NN%)" now and then: in place on a terminal, as lines otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not total:
            if message:
                click.echo(f"{self.label}:{message}", err=True)
            return
        percent = done * 100 // total
        if percent == self.last:
            return
        self.last = percent
        line = f"{self.label} {done}/{total}({percent}%)"
        if self.tty:
            click.echo("\r" + line, err=True, nl=done >= total)
        else:
            click.echo(line, err=True)


def register_cli(app: Flask) -> None:
    @app.cli.command("init-db")
    @handled
    def init_db() -> None:
        """Create or upgrade the database to the newest schema and load the shipped rulebook; closed months
        without their stored tally cells (closed before the cells existed) get them."""
        from services.months import keep_missing_tally_cells

        upgrade()
        ensure_shipped()
        db.session.commit()
        kept = {label: n for label, n in keep_missing_tally_cells().items() if n}
        db.session.commit()
        if kept:
            click.echo(f"已为 {len(kept)} 个已关账月份保存扣分统计数据")
        click.echo("数据库已就绪")

    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="只在数据库中没有单位时载入演示数据")
    @click.option("--seed", type=int, default=None, hidden=True)
    @handled
    def demo_command(if_empty: bool, seed: int | None) -> None:
        """Load the demo hall (about 30 units, 150 staff, a year of incidents) and print the logins."""
        from services import demo

        if demo.has_units():
            if demo.is_loaded():
                click.echo("演示数据已载入,未重复载入。")
                _print_logins(demo.logins())
                return
            if if_empty:
                click.echo("数据库中已有单位,未载入演示数据。")
                return
            raise CliError("数据库中已有单位,演示数据只能载入空数据库")
        ensure_shipped()
        summary = demo.load(
            seed if seed is not None else demo.DEFAULT_SEED, progress=ProgressPrinter("演示数据")
        )
        db.session.commit()
        click.echo(
            f"演示数据已载入:{summary['units']} 个单位,{summary['staff']} 名工作人员,"
            f"{summary['incidents']} 条扣加分记录({summary['first_month']} 起共 {summary['months']} 个月),"
            f"{summary['punches']} 条打卡记录,{summary['d16_pending']} 条待确认的检测结果。"
        )
        _print_logins(demo.logins())

    @app.cli.command("create-user")
    @click.argument("username", required=False)
    @click.option("--role", default=None, help="admin | inspector | leader | unit")
    @click.option("--unit", "unit_code", default=None, help="单位代码(单位用户必填)")
    @click.option("--password", default=None, help="不填则提示输入")
    @click.option("--name", "display_name", default="", help="显示名称")
    @handled
    def create_user(
        username: str, role: str | None, unit_code: str | None, password: str | None, display_name: str
    ) -> None:
        """Create a user through services.users (the users page's rules); prompts twice (hidden) for the
        password when --password is not given."""
        from services import users

        if not (username or "").strip():
            raise CliError("用户名不能为空,如:create-user zhangsan --role inspector")
        unit = None
        if unit_code:
            unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
            if unit is None:
                raise CliError(f"单位代码 {unit_code} 不存在")
        users.check_new_user(username, role, unit)  # refuse before asking for a password
        if password is None:
            # Two plain prompts rather than click's confirmation_prompt, whose mismatch message is English.
            password = click.prompt("密码", hide_input=True, default="", show_default=False)
            again = click.prompt("再次输入密码", hide_input=True, default="", show_default=False)
            if password != again:
                raise CliError("两次输入的密码不一致")
        # The operator typed this password for its holder, who keeps it: not a temporary one.
        user = users.create_user(username, display_name, role, unit, password, temporary=False)
        db.session.commit()
        where = f",单位:{unit.name}" if unit else ""
        click.echo(f"已创建用户 {user.username}(角色:{ROLE_LABELS[user.role]}{where})")

    @app.cli.command("import")
    @click.argument("kind", required=False)
    @click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
    @handled
    def import_command(kind: str, file: Path) -> None:
        """Import units|staff|incidents|clock|calendar from a .csv or .xlsx file; all or nothing."""
        from services import imports

        if not kind or file is None:
            raise CliError(f"请指定导入类型和文件,如:import units units.csv(类型:{'、'.join(imports.KINDS)})")
        if kind not in imports.KINDS:
            raise CliError(f"导入类型 {kind} 无效,应为:{'、'.join(imports.KINDS)}")
        if not file.is_file():
            raise CliError(f"找不到文件 {file}")
        try:
            summary = imports.import_file(
                kind, file.name, file.read_bytes(), progress=ProgressPrinter("导入")
            )
        except imports.ImportRejected as rejected:
            db.session.rollback()
            click.echo(f"导入失败,未写入任何数据。共 {len(rejected.errors)} 处问题:", err=True)
            for error in rejected.errors:
                click.echo(f"  {error}", err=True)
            raise click.exceptions.Exit(1) from None
        db.session.commit()
        click.echo(imports.summary_text(summary))

    @app.cli.command("detect")
    @click.option("--month", "month_text", default=None, help="YYYY-MM")
    @click.option("--confirm", is_flag=True, help="确认本次产生的全部检测结果(用于脚本)")
    @handled
    def detect(month_text: str | None, confirm: bool) -> None:
        """Propose D13 (staff turnover) and D16 (missed clock-in) incidents for a month."""
        from services import detections
        from services.bounds import check_month_in_range

        year, month = parse_month_arg(month_text)
        check_month_in_range(year, month)
        result = detections.run(year, month, confirm=confirm, progress=ProgressPrinter("检测"))
        db.session.commit()
        click.echo(
            f"{result['month']} 检测完成:新增待确认 {result['proposed']} 条,"
            f"已存在(含已确认、已驳回){result['existing']} 条,本次确认 {result['confirmed']} 条。"
        )
        if result["skipped_inactive"]:
            click.echo(f"已停用单位的 {result['skipped_inactive']} 条结果未登记。")
        if result["unknown_staff"]:
            click.echo(f"打卡记录中有人员名册里没有的工号:{'、'.join(result['unknown_staff'])}")

    @app.cli.command("standings")
    @click.option("--month", "month_text", default=None, help="YYYY-MM")
    @click.option("--json", "as_json", is_flag=True, help="输出与 /api/standings 相同的 JSON")
    @handled
    def standings_command(month_text: str | None, as_json: bool) -> None:
        """A month's ranking: a Chinese table, or with --json exactly the API's JSON."""
        from services.bounds import check_month_in_range
        from services.standings import standings_json

        year, month = parse_month_arg(month_text)
        check_month_in_range(year, month)
        data = standings_json(year, month)
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        click.echo(
            f"{data['month']} 月度考核排名  规则版本:{data['rulebook']}  "
            f"状态:{STATUS_LABELS.get(data['status'], data['status'])}"
        )
        if not data["units"]:
            click.echo("(没有参加考核的单位)")
            return
        rows = [
            [
                str(u["rank"]),
                f"{u['name']}({u['code']})",
                str(u["score"]),
                str(u["deductions"]),
                str(u["bonus"]),
                str(GRADE_LABELS.get(u["grade"], u["grade"])),
                "、".join(str(FLAG_LABELS.get(f, f)) for f in u["flags"]),
            ]
            for u in data["units"]
        ]
        click.echo(format_table(["名次", "单位", "得分", "扣分", "加分", "等级", "标记"], rows, "><>>><<"))

    @app.cli.command("close-month")
    @click.argument("month_text", metavar="YYYY-MM", required=False)
    @click.option("--despite-open-appeals", is_flag=True, help="该月仍有未处理的申诉时也关账")
    @handled
    def close_month(month_text: str, despite_open_appeals: bool) -> None:
        """Close a month that has ended: its standings are frozen as they are now."""
        from services import months

        year, month = parse_month_arg(month_text, "在命令后")
        # Refuses a month not ended, before the first rulebook, or with undecided appeals, as the page.
        months.close(year, month, despite_open_appeals=despite_open_appeals)
        db.session.commit()
        click.echo(f"{year}年{month}月已关账,排名已固定")

    @app.cli.command("publish-month")
    @click.argument("month_text", metavar="YYYY-MM", required=False)
    @handled
    def publish_month(month_text: str) -> None:
        """Publish a closed month (the monthly bulletin)."""
        from services import months

        year, month = parse_month_arg(month_text, "在命令后")
        months.publish(year, month)
        db.session.commit()
        click.echo(f"{year}年{month}月已发布")

    @app.cli.command("reopen-month")
    @click.argument("month_text", metavar="YYYY-MM", required=False)
    @click.option("--reason", default="", help="重新开放的原因(必填)")
    @handled
    def reopen_month(month_text: str, reason: str) -> None:
        """Reopen a closed or published month, with a reason (audited)."""
        from services import months

        year, month = parse_month_arg(month_text, "在命令后")
        if not reason.strip():
            raise CliError("重新开放月份必须用 --reason 填写原因")
        months.reopen(year, month, reason)
        db.session.commit()
        click.echo(f"{year}年{month}月已重新开放")

    @app.cli.command("notify-deadlines")
    @click.option("--day", "day_text", default=None, metavar="YYYY-MM-DD", help="按哪一天计算(默认今天)")
    @handled
    def notify_deadlines(day_text: str | None) -> None:
        """Remind units of deadlines two working days away (run daily, e.g. from cron; idempotent)."""
        from datetime import date

        from services.clock import hall_today
        from services.notifications import notify_due_deadlines

        try:
            day = date.fromisoformat(day_text) if day_text else hall_today()
        except ValueError:
            raise CliError(f"日期 {day_text} 无效,应为 YYYY-MM-DD") from None
        made = notify_due_deadlines(day)
        db.session.commit()
        click.echo(f"{day.isoformat()}:发出期限提醒 {made} 条(两个工作日内到期、尚未提醒过的期限)")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="处理完队列中现有的任务后退出")
    @click.option("--queue", "queues", multiple=True, help="队列名(默认为 JOBS_QUEUE 或 hallscore)")
    @handled
    def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
        """Run background jobs (imports, detections) from the Redis queue; needs REDIS_URL."""
        from services import jobs

        if not jobs.uses_queue(app):
            raise CliError("未设置 REDIS_URL:没有任务队列,任务在网页进程内运行,无需启动 worker")
        try:
            jobs.redis_connection(app).ping()
        except Exception as error:  # redis.ConnectionError and friends: a line, not a traceback
            raise CliError(f"无法连接 Redis({jobs.redis_url(app)}):{error}") from None
        failed = jobs.fail_abandoned()  # jobs of a worker that died are failed, so they can be run again
        if failed:
            click.echo(f"已将 {failed} 个中断的任务标记为失败", err=True)
        worker = jobs.make_worker(app, list(queues) or None)
        click.echo(f"任务 worker 已启动,队列:{'、'.join(q.name for q in worker.queues)}", err=True)
        worker.work(burst=burst, logging_level="WARNING")

    @app.cli.command("backup")
    @click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
    @handled
    def backup_command(file: Path) -> None:
        """Write every table (and the evidence files, unless FILE ends in .json) to FILE."""
        from services import backup

        if file is None:
            raise CliError("请指定备份文件名,如:backup hall-backup.zip")
        result = backup.backup(file)
        click.echo(
            f"已备份到 {file}:{result['tables']} 张数据表,{result['rows']} 行,{result['files']} 个附件文件"
        )
        if result["missing_files"]:
            note = "(.json 备份不含附件文件,请用 .zip)" if result["format"] == "json" else "(文件缺失)"
            click.echo(f"注意:{result['missing_files']} 个附件文件未备份{note}")

    @app.cli.command("restore")
    @click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="不再确认")
    @handled
    def restore_command(file: Path, yes: bool) -> None:
        """Replace all data with a backup's (one transaction; a bad file changes nothing)."""
        from services import backup

        if file is None:
            raise CliError("请指定要恢复的备份文件,如:restore hall-backup.zip")
        if not file.is_file():
            raise CliError(f"找不到备份文件 {file}")
        if not yes and sys.stdin.isatty():
            click.confirm("恢复将替换数据库中的全部数据,是否继续?", abort=True)
        result = backup.restore(file)  # commits rows and files together, or changes nothing
        click.echo(
            f"已从 {file} 恢复:{result['tables']} 张数据表,{result['rows']} 行,{result['files']} 个附件文件"
        )


def _print_logins(logins: list) -> None:
    click.echo("演示账号:")
    staff = [x for x in logins if x.role != Role.UNIT]
    units = [x for x in logins if x.role == Role.UNIT]
    rows = [[str(ROLE_LABELS[x.role]), x.username, x.password, ""] for x in staff]
    rows += [[str(ROLE_LABELS[x.role]), x.username, x.password, x.unit] for x in units[:2]]
    click.echo(format_table(["角色", "用户名", "密码", "单位"], rows, "<<<<"))
    if len(units) > 2:
        click.echo(
            f"其余单位:{units[2].username} … {units[-1].username}(按单位顺序),密码均为 {units[2].password}"
        )
