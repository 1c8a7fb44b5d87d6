from tests.browser.test_kiosk import *  # noqa
from models import KioskScreen

def test_dbg(hall, open_page, live_server):
    page = open_kiosk(open_page, live_server)
    page.wait_for_timeout(500)
    db.session.expire_all()
    print("ROWS", [(s.name, s.last_seen_at) for s in db.session.scalars(db.select(KioskScreen))])
    print("PENDING", kiosk._pending, kiosk._last_flush)
    assert 0
