"""Flask extensions, created unbound; `create_app` binds them. `db` lives in models.base."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
migrate = Migrate()
# Only the login view is limited; nothing is limited by default so the hall screens poll freely.
# The storage comes from RATELIMIT_STORAGE_URI (config.py), so that workers can share one.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
