"""The data model: one module per aggregate; import from here."""

from models.appeal import Appeal, BonusClaim, RectificationReport, RequestFile, RequestStatus
from models.audit import AuditLog
from models.base import Base, UTCDateTime, db, utcnow
from models.calendar import CalendarDay, ClockOutage, ClockPunch, Leave
from models.document import DocumentCounter, IssuedDocument
from models.honor import HonorEntry, HonorRoll
from models.incident import Evidence, Incident, IncidentHistory, IncidentStatus, Warning
from models.job import Job
from models.month import Month, MonthStatus, MonthTallyCell, MonthUnitResult
from models.notification import BulletinRead, Notification, NotificationRead
from models.rulebook import RulebookVersion
from models.setting import KioskScreen, Setting
from models.staff import Posting, Staff
from models.unit import Unit, split_windows
from models.user import Role, User

__all__ = [
    "Appeal",
    "BonusClaim",
    "RectificationReport",
    "RequestFile",
    "RequestStatus",
    "AuditLog",
    "Base",
    "BulletinRead",
    "CalendarDay",
    "ClockOutage",
    "ClockPunch",
    "DocumentCounter",
    "Evidence",
    "HonorEntry",
    "HonorRoll",
    "Incident",
    "IncidentHistory",
    "IncidentStatus",
    "IssuedDocument",
    "Job",
    "KioskScreen",
    "Leave",
    "Month",
    "MonthStatus",
    "MonthTallyCell",
    "MonthUnitResult",
    "Notification",
    "NotificationRead",
    "Posting",
    "Role",
    "RulebookVersion",
    "Setting",
    "Staff",
    "Unit",
    "UTCDateTime",
    "User",
    "Warning",
    "db",
    "split_windows",
    "utcnow",
]
