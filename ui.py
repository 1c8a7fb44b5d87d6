"""What every template may use: role names, the main menu by role, the error pages' texts."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

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
    ("admin.detection_list", _l("检测待确认"), ("admin",)),
    ("admin.month_list", _l("月度"), ("admin", "leader")),
    ("admin.unit_list", _l("单位"), ("admin",)),
    ("admin.staff_list", _l("人员"), ("admin",)),
    ("admin.calendar_page", _l("工作日历"), ("admin",)),
    ("admin.rulebook_list", _l("考核细则"), ("admin", "inspector", "leader")),
    ("admin.import_page", _l("导入"), ("admin",)),
    ("admin.user_list", _l("用户"), ("admin",)),
    ("admin.audit_list", _l("审计日志"), ("admin", "leader")),
    ("admin.kiosk_settings", _l("大屏"), ("admin",)),
]


def init_app(app: Flask) -> None:
    @app.context_processor
    def helpers():
        return {
            "role_label": lambda r: ROLE_LABELS.get(r, r),
            "grade_label": lambda g: GRADE_LABELS.get(str(g), g),
            "status_label": lambda s: STATUS_LABELS.get(str(s), s),
            "flag_label": lambda f: FLAG_LABELS.get(str(f), f),
            "incident_status_label": lambda s: INCIDENT_STATUS_LABELS.get(str(s), s),
            "error_text": lambda code: ERRORS.get(code, ERRORS[500]),
            "nav_items": lambda: [n for n in NAV if n[0] in app.view_functions],
            "get_locale": get_locale,  # base.html sets <html lang> from it
        }
