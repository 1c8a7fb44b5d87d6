"""What every template may use: role names, the main menu by role, the error pages' texts."""

from __future__ import annotations

from flask import Flask, g
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from services.memo import kept_for

ROLE_LABELS = {
    "admin": _l("管理员"),
    "inspector": _l("巡查员"),
    "leader": _l("局领导"),
    "unit": _l("单位用户"),
}
GRADE_LABELS = {
    "excellent": _l("优秀"),
    "good": _l("良好"),
    "qualified": _l("合格"),
    "unqualified": _l("不合格"),
}
STATUS_LABELS = {"open": _l("进行中(实时)"), "closed": _l("已关账"), "published": _l("已发布")}
FLAG_LABELS = {
    "notice_feedback": _l("书面通报并要求反馈"),
    "discipline_report": _l("报纪检监察组"),
    "leadership_report": _l("报营商环境建设领导小组"),
    "quarter_ineligible": _l("取消当季评优资格"),
    "replace_staff": _l("要求更换相关人员"),
}
INCIDENT_STATUS_LABELS = {
    "proposed": _l("待确认"),
    "confirmed": _l("已确认"),
    "voided": _l("已作废"),
    "dismissed": _l("已驳回"),
}
# Audit log: what each action code (services.audit.record) means; an unknown code shows as itself.
ACTION_LABELS = {
    "user.login": _l("登录"),
    "user.password": _l("修改密码"),
    "user.create": _l("新增用户"),
    "user.update": _l("修改用户"),
    "user.password_reset": _l("重置密码"),
    "month.close": _l("关账"),
    "month.publish": _l("发布"),
    "month.reopen": _l("重新开账"),
    "detect.run": _l("运行自动检测"),
    "incident.created": _l("登记扣加分"),
    "incident.proposed": _l("系统检测提出"),
    "incident.corrected": _l("修改扣加分"),
    "incident.confirmed": _l("确认扣加分"),
    "incident.voided": _l("作废扣加分"),
    "incident.dismissed": _l("驳回检测结果"),
    "warning.create": _l("登记提醒"),
    "notice.open": _l("发出书面通报"),
    "notice.update": _l("更新书面通报"),
    "notice.withdraw": _l("撤销书面通报"),
    "notice.read": _l("确认阅读书面通报"),
    "notice.answer": _l("反馈书面通报"),
    "evidence.add": _l("添加证据"),
    "unit.create": _l("新增单位"),
    "unit.update": _l("修改单位"),
    "staff.create": _l("新增人员"),
    "staff.posting_add": _l("新增派驻记录"),
    "staff.move": _l("人员调岗"),
    "staff.end": _l("人员离岗"),
    "calendar.set": _l("设置工作日历"),
    "calendar.clear": _l("清除工作日历设置"),
    "calendar.load": _l("载入工作日历"),
    "outage.create": _l("登记考勤机故障"),
    "leave.create": _l("登记请假"),
    "import.units": _l("导入单位"),
    "import.staff": _l("导入人员名册"),
    "import.incidents": _l("导入扣加分记录"),
    "import.clock": _l("导入打卡记录"),
    "import.calendar": _l("导入工作日历"),
    "kiosk.settings": _l("修改大屏设置"),
    "documents.settings": _l("修改公文设置"),
    "document.issue": _l("编排文号"),
    "rulebook.load": _l("载入考核细则"),
    "rulebook.publish": _l("发布考核细则"),
    "backup.restore": _l("恢复备份"),
    "demo.load": _l("载入演示数据"),
    "appeal.submit": _l("提出申诉"),
    "appeal.decide": _l("处理申诉"),
    "rectification.report": _l("报告整改完成"),
    "rectification.extension": _l("申请延长整改期限"),
    "rectification.decide": _l("处理整改报告或延期申请"),
    "claim.submit": _l("提出加分申请"),
    "claim.decide": _l("处理加分申请"),
    "honor.select": _l("评选光荣榜"),
    "honor.publish": _l("发布光荣榜"),
    "honor.unpublish": _l("撤回光荣榜"),
}
# Field names in audit before/after and incident history; an unknown name shows as itself.
FIELD_LABELS = {
    "status": _l("状态"),
    "unit": _l("单位"),
    "rule_code": _l("规则"),
    "occurred_at": _l("发生时间"),
    "count": _l("次数"),
    "staff": _l("人员"),
    "staff_id": _l("工号"),
    "window": _l("窗口"),
    "windows": _l("窗口"),
    "note": _l("内部备注"),
    "public_text": _l("通知单说明"),
    "deadline": _l("整改期限"),
    "rectified_on": _l("整改完成日期"),
    "exempt": _l("免扣"),
    "linked_id": _l("关联违规记录"),
    "void_reason": _l("作废原因"),
    "reason": _l("原因"),
    "source": _l("来源"),
    "name": _l("名称"),
    "code": _l("代码"),
    "active": _l("启用"),
    "display_order": _l("排序"),
    "username": _l("用户名"),
    "role": _l("角色"),
    "unit_id": _l("所属单位"),
    "category": _l("类别"),
    "start_date": _l("开始日期"),
    "end_date": _l("结束日期"),
    "kind": _l("类型"),
    "rows": _l("行数"),
    "month": _l("月份"),
    "key": _l("版本"),
    # The summary of an import (services.imports.SUMMARY_LABELS says the same) and of a detection run.
    "created": _l("新增"),
    "updated": _l("更新"),
    "unchanged": _l("未变"),
    "staff_created": _l("新增人员"),
    "postings_added": _l("新增岗位记录"),
    "postings_closed": _l("结束原岗位"),
    "skipped": _l("跳过已有的相同打卡"),
    "within_a_minute": _l("与前一次打卡相隔不足一分钟(计为一次)"),
    "unknown_punches": _l("未知工号的打卡(已跳过)"),
    "unknown_staff": _l("未知工号"),
    "linked": _l("D15 已关联违规记录"),
    "pending_link": _l("D15 待关联"),
    "pending_link_ids": _l("待关联记录编号"),
    "pending_link_rows": _l("待关联的行"),
    "inactive_unit_rows": _l("属于已停用单位的行(已导入,不计分)"),
    "inactive_units": _l("已停用单位"),
    "skipped_inactive": _l("已停用单位的检测结果(未登记)"),
    "proposed": _l("新增待确认"),
    "existing": _l("此前已检测"),
    "confirmed": _l("本次确认"),
    # users, staff, evidence, rulebooks, warnings, outages, backups
    "display_name": _l("显示名称"),
    "postings": _l("派驻记录"),
    "files": _l("文件"),
    "filename": _l("文件名"),
    "stored_name": _l("存储文件名"),
    "size": _l("大小(字节)"),
    "effective_from": _l("生效日期"),
    "given_at": _l("提醒时间"),
    # notices (services.notices)
    "flag": _l("标记"),
    "reasons": _l("触发记录"),
    "answer_deadline": _l("反馈期限"),
    "answer_text": _l("反馈内容"),
    "answered": _l("已反馈"),
    "late": _l("逾期反馈"),
    "read": _l("已读"),
    "withdrawn": _l("已撤销"),
    "text": _l("内容"),
    "start_at": _l("开始时间"),
    "end_at": _l("结束时间"),
    "created_at": _l("备份时间"),
    "years": _l("年份"),
    # the demo hall's summary
    "units": _l("单位数"),
    "incidents": _l("扣加分记录数"),
    "months": _l("月数"),
    "first_month": _l("起始月份"),
    "punches": _l("打卡记录数"),
    "d13": _l("人员变动检测结果"),
    "d16_previous": _l("上月未打卡检测结果"),
    "d16_pending": _l("本月待确认的未打卡检测结果"),
    "seed": _l("随机种子"),
    "today": _l("日期"),
    "honor_quarter": _l("已发布的季度光荣榜"),
    "honor_year": _l("已发布的年度光荣榜"),
    # the hall screen's settings (services.kiosk)
    "interval": _l("每页显示时间(秒)"),
    "panels": _l("显示的版块"),
    "top_n": _l("前后名单各显示的单位数"),
    "quiet_enabled": _l("非办公时间画面"),
    "quiet_start": _l("非办公时间开始"),
    "quiet_end": _l("非办公时间结束"),
    "quiet_non_working": _l("周末和节假日全天显示非办公时间画面"),
    "opening_text": _l("办公时间说明"),
    "rev": _l("设置版本"),
    # appeals, rectification reports, bonus claims (services.appeals, rectifications, claims)
    "incident": _l("扣加分记录"),
    "occurred_on": _l("日期"),
    "open_appeals": _l("未处理的申诉"),
    "appeals": _l("申诉"),
    "rectifications": _l("整改报告"),
    "claims": _l("加分申请"),
}
# Stored values that are codes, by the field that holds them; an unknown value shows as itself.
VALUE_LABELS = {
    "category": {"W": _l("窗口人员"), "C": _l("后台人员")},
    "source": {
        "desk": _l("登记"),
        "patrol": _l("巡查"),
        "import": _l("导入"),
        "detect": _l("系统检测"),
        "claim": _l("加分申请"),
    },
    "kind": {
        "holiday": _l("节假日"),
        "workday": _l("调休工作日"),
        "units": _l("单位"),
        "staff": _l("人员名册"),
        "incidents": _l("扣加分记录"),
        "clock": _l("打卡记录"),
        "calendar": _l("工作日历"),
    },
    "panels": {
        "live": _l("本月实时排名"),
        "published": _l("最近一期考核通报"),
        "honor": _l("光荣榜"),
        "topbottom": _l("本月前 N 名与后 N 名"),
    },
}
# The audit log's objects ("kind:id" targets of services.audit.record) as a reader names them.
TARGET_LABELS = {
    "user": _l("用户"),
    "incident": _l("扣加分记录"),
    "month": _l("月份"),
    "staff": _l("人员"),
    "unit": _l("单位"),
    "rulebook": _l("考核细则"),
    "calendar": _l("工作日历"),
    "outage": _l("考勤机故障"),
    "warning": _l("提醒"),
    "notice": _l("书面通报"),
    "import": _l("导入"),
    "setting:kiosk": _l("大屏设置"),
    "setting:documents": _l("公文设置"),
    "document": _l("公文"),
    "demo": _l("演示数据"),
    "appeal": _l("申诉"),
    "rectification": _l("整改报告"),
    "claim": _l("加分申请"),
    "honor": _l("光荣榜"),
    "database": _l("全部数据"),
}


def action_label(code) -> str:
    return _current()["action"].get(str(code), str(code))


def field_label(key) -> str:
    return _current()["field"].get(str(key), str(key))


def value_label(key, value):
    """A stored value as a reader says it: statuses and roles in Chinese, booleans 是/否."""
    if isinstance(value, bool):
        return _l("是") if value else _l("否")
    labels = _current()
    if key == "status":
        text = str(value)
        return labels["incident_status"].get(text) or labels["status"].get(text) or str(value)
    if key == "role":
        return labels["role"].get(str(value), str(value))
    if key in VALUE_LABELS and isinstance(value, str):
        return labels["value:" + key].get(value, value)
    return value


ERRORS = {
    400: (_l("请求无效"), _l("提交的内容无效或页面已过期,请刷新页面后重试。")),
    403: (_l("无权访问"), _l("您的账号没有使用此功能的权限。")),
    404: (_l("未找到"), _l("您要找的页面或记录不存在。")),
    405: (_l("不支持的操作"), _l("此页面不支持该操作。")),
    413: (_l("文件过大"), _l("上传的文件超过了大小限制。")),
    429: (_l("尝试次数过多"), _l("尝试次数过多,请一分钟后再试。")),
    500: (_l("系统错误"), _l("系统出现错误,您的数据没有丢失,请稍后重试。")),
}

# (endpoint, label, roles that see it), in menu order; the admin blueprint defines the endpoints.
NAV = [
    ("admin.dashboard", _l("工作台"), ("admin", "inspector", "leader")),
    ("admin.patrol_sheet", _l("巡查表"), ("admin", "inspector")),
    ("admin.incident_new", _l("登记"), ("admin", "inspector")),
    ("admin.incident_list", _l("扣加分记录"), ("admin", "inspector", "leader")),
    ("admin.standings_page", _l("排名"), ("admin", "inspector", "leader")),
    ("admin.detection_list", _l("检测待确认"), ("admin", "leader")),
    ("admin.month_list", _l("月度"), ("admin", "leader")),
    ("admin.request_list", _l("待处理"), ("admin", "leader")),
    ("admin.year_summary", _l("年终汇总"), ("admin", "leader")),
    ("admin.notice_list", _l("书面通报"), ("admin", "leader")),
    ("admin.unit_list", _l("单位"), ("admin", "leader")),
    ("admin.staff_list", _l("人员"), ("admin", "leader")),
    ("admin.calendar_page", _l("工作日历"), ("admin", "leader")),
    ("admin.rulebook_list", _l("考核细则"), ("admin", "inspector", "leader")),
    ("admin.import_page", _l("导入"), ("admin",)),
    ("admin.user_list", _l("用户"), ("admin", "leader")),
    ("admin.audit_list", _l("审计日志"), ("admin", "leader")),
    ("admin.honor_list", _l("光荣榜"), ("admin", "leader")),
    ("admin.kiosk_settings", _l("大屏"), ("admin", "leader")),
    ("admin.document_settings", _l("公文设置"), ("admin",)),
]


_LABEL_TABLES = {
    "role": ROLE_LABELS,
    "grade": GRADE_LABELS,
    "status": STATUS_LABELS,
    "flag": FLAG_LABELS,
    "incident_status": INCIDENT_STATUS_LABELS,
    "action": ACTION_LABELS,
    "field": FIELD_LABELS,
    **{"value:" + key: table for key, table in VALUE_LABELS.items()},
    "nav": {endpoint: label for endpoint, label, _roles in NAV},
}
_resolved: dict[str, dict[str, dict[str, str]]] = {}


def _labels(locale: str) -> dict[str, dict[str, str]]:
    """The label tables translated into `locale`, once per process: a big table asks for a grade label in
    every cell, and each lazy string's translation costs a lookup of the request's locale (a 200-unit
    year summary spent a fifth of its time there). The catalogs are compiled files that never change
    while the app runs."""
    tables = _resolved.get(locale)
    if tables is None:
        tables = {name: {k: str(v) for k, v in table.items()} for name, table in _LABEL_TABLES.items()}
        _resolved[locale] = tables
    return tables


def _translations():
    """This request's translations, looked up once: Flask-Babel's callables find the locale again on every
    `_()` of a template (a page of 400 strings spent 10 ms there). Kept beside Flask-Babel's own per-request
    cache of the locale (`g._flask_babel`), so it lives exactly as long."""
    ctx = g.get("_flask_babel")
    found = getattr(ctx, "hallscore_translations", None)
    if found is None:
        found = get_translations()
        if ctx is not None:
            ctx.hallscore_translations = found
    return found


def kept(owner: object, *key, caller):
    """`{% call kept(result, 'name', …) %}…{% endcall %}`: the block rendered once for the object it shows
    (a month's results, kept by the services until their data change, so the same object means the same
    data) and `key` (whatever else the block shows), in each locale (services.memo.kept_for). The block
    must hold nothing of the reader: no form token, no name. A 200-unit standings table costs 15–30 ms to
    render."""
    return kept_for(owner, (str(get_locale()), *key), caller)


def _template_gettext(message: str, **variables) -> Markup:
    """The templates' `_()`: what Jinja's newstyle gettext gives (the translation as markup, its
    placeholders filled and escaped), without its two context lookups per call (24 µs, for hundreds of
    calls on a page of rows). A text without "%" is the same formatted or not."""
    text = Markup(_translations().ugettext(message))
    return text % variables if variables or "%" in text else text


def _current() -> dict[str, dict[str, str]]:
    return _labels(str(get_locale()))


def init_app(app: Flask) -> None:
    """After Babel's init_app: the template helpers and the templates' gettext callables."""
    app.jinja_env.globals["kept"] = kept
    app.jinja_env.globals["_"] = _template_gettext
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )

    @app.context_processor
    def helpers():
        labels = _labels(str(get_locale()))
        role, grade, status, flag, incident_status = (
            labels["role"],
            labels["grade"],
            labels["status"],
            labels["flag"],
            labels["incident_status"],
        )
        return {
            "role_label": lambda r: role.get(r, r),
            "grade_label": lambda g: grade.get(str(g), g),
            "status_label": lambda s: status.get(str(s), s),
            "flag_label": lambda f: flag.get(str(f), f),
            "incident_status_label": lambda s: incident_status.get(str(s), s),
            "action_label": action_label,
            "field_label": field_label,
            "value_label": value_label,
            "error_text": lambda code: ERRORS.get(code, ERRORS[500]),
            "nav_items": lambda: [
                (endpoint, labels["nav"].get(endpoint, label), roles)
                for endpoint, label, roles in NAV
                if endpoint in app.view_functions
            ],
            "get_locale": get_locale,  # base.html sets <html lang> from it
        }
