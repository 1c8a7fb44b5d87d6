"""A large hall for the page benchmarks: 200 units, 2,000 staff with roster history, 5 years of incidents
(about 1,000,000), clock-in punches of the C staff for the last year, every past month closed and published.

    .venv/bin/python bench/seed_large.py /tmp/large.db                          # SQLite file
    .venv/bin/python bench/seed_large.py postgresql://postgres@127.0.0.1:5432/hs_b_large
    .venv/bin/python bench/seed_large.py /tmp/small.db --incidents 20000        # while developing

The target database must be empty (no units); it is upgraded to the newest schema first. Hall "today" is
the real today, so gunicorn serves it as it stands. The demo's pieces are reused (`services.demo`: the
calendar with its holidays, names, logins admin/admin123, inspector/inspector123, leader/leader123 and
unit1…unit200/unit123, notes and the mix of everyday findings). Since the shipped rulebook starts in
April 2023, it is dated back to the first of the five years (a hall that has used these measures for five
years). The bulk rows (staff, postings, incidents with their "created" history and audit rows, evidence
rows, reminders, punches) are written with SQLAlchemy Core executemany in chunks; the months are closed
and published through services.months, as an admin does, so snapshots, bulletins and notices are real.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import sys
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UNITS = 200
STAFF = 2_000
YEARS = 5
INCIDENTS = 1_000_000
CHUNK = 10_000
HALL_OFFSET = timedelta(hours=8)  # Asia/Shanghai has no daylight saving: hall time = UTC + 8 h


def database_url(target: str) -> str:
    if "://" not in target:
        return f"sqlite:///{Path(target).resolve()}"
    for prefix in ("postgres://", "postgresql://"):  # as config.database_url: the psycopg 3 driver
        if target.startswith(prefix):
            return "postgresql+psycopg://" + target[len(prefix) :]
    return target


def utc(hall: datetime) -> datetime:
    return (hall - HALL_OFFSET).replace(tzinfo=UTC)


class Seeder:
    def __init__(self, incidents: int, seed: int):
        from services import demo

        self.demo = demo
        self.target = incidents
        self.builder = demo._Builder(seed, None)  # calendar, names, logins, working days, moments
        self.rng = self.builder.rng
        today = self.builder.today
        from scoring.calendar import add_months

        # 60 months up to and including this one
        self.months: list[tuple[int, int]] = [
            add_months(today.year, today.month, -n) for n in range(12 * YEARS - 1, -1, -1)
        ]
        self.first = date(*self.months[0], 1)
        self.started = clock.perf_counter()

    def say(self, message: str) -> None:
        print(f"[{clock.perf_counter() - self.started:7.1f} s] {message}", flush=True)

    # ------------------------------------------------------------------ rulebook, calendar, units, users

    def base(self) -> None:
        from sqlalchemy import insert, select

        from models import RulebookVersion, Unit, db
        from services.rulebooks import ensure_shipped

        row = ensure_shipped()
        row.effective_from = self.first
        row.data = {**row.data, "effective_from": self.first.isoformat()}
        self.builder.load_calendar()
        names = [name for _code, name, *_ in self.demo.UNITS]
        branches = ["", "(东区分厅)", "(西区分厅)", "(南区分厅)", "(北区分厅)"]
        branches += ["(高新区分厅)", "(开发区分厅)"]
        rows, window = [], 1
        for i in range(UNITS):
            count = self.rng.randint(3, 8)
            code = f"U{i + 1:03d}"
            rows.append(
                {
                    "code": code,
                    "name": names[i % len(names)] + branches[(i // len(names)) % len(branches)],
                    "windows": ";".join(str(n) for n in range(window, window + count)),
                    "display_order": i + 1,
                    "active": True,
                }
            )
            window += count
        db.session.execute(insert(Unit), rows)
        self.builder.units = list(db.session.scalars(select(Unit).order_by(Unit.display_order)))
        self.builder.load_users()
        db.session.flush()
        self.users = {name: user.id for name, user in self.builder.users.items()}
        assert db.session.scalar(select(RulebookVersion.effective_from)) == self.first
        db.session.commit()
        self.say(f"{UNITS} units, {len(self.users)} users, calendar, rulebook from {self.first}")

    # ------------------------------------------------------------------ staff and roster history

    def roster(self) -> None:
        """Every window and back-office seat held from before the first month; the rest of the 2,000 come
        as replacements spread over the five years (the holder leaves the day before), so postings have
        history and D13 has something to read."""
        from sqlalchemy import insert, select

        from models import Posting, Staff, db

        b = self.builder
        seats = []  # (unit, category, window)
        for unit in b.units:
            seats += [(unit, "W", w) for w in unit.window_list]
            seats += [(unit, "C", None) for _ in range(self.rng.choice([0, 1, 1, 2, 3]))]
        replacements = STAFF - len(seats)
        days = [d for ym in self.months[:-1] for d in b.working_days(*ym)]
        changes = sorted(self.rng.sample(days * 3, replacements))
        holders: list[list[list]] = [[] for _ in seats]  # per seat: [start, end, staff number]
        people = []  # (staff_id, name)
        for i, _seat in enumerate(seats):
            people.append((f"S{len(people) + 1:05d}", b.name()))
            start = self.first - timedelta(days=self.rng.randint(30, 1500))
            holders[i].append([start, None, len(people) - 1])
        for day in changes:
            i = self.rng.randrange(len(seats))
            last = holders[i][-1]
            if last[0] >= day:
                day = last[0] + timedelta(days=1)
            last[1] = day - timedelta(days=1)
            people.append((f"S{len(people) + 1:05d}", b.name()))
            holders[i].append([day, None, len(people) - 1])
        db.session.execute(insert(Staff), [{"staff_id": s, "name": n} for s, n in people])
        pk = dict(db.session.execute(select(Staff.staff_id, Staff.id)).all())
        pks = [pk[s] for s, _ in people]
        postings = []
        for (unit, category, window), spans in zip(seats, holders, strict=True):
            for start, end, number in spans:
                postings.append(
                    {
                        "staff_pk": pks[number],
                        "unit_id": unit.id,
                        "category": category,
                        "window": window,
                        "start_date": start,
                        "end_date": end,
                    }
                )
        db.session.execute(insert(Posting), postings)
        db.session.commit()
        # For the incidents: per unit and category, each seat's (starts, holders) to bisect by day.
        self.seats: dict[tuple[int, str], list[tuple[list[date], list[tuple[int, str | None]]]]] = {}
        self.c_spans: list[tuple[date, date | None, str]] = []
        for (unit, category, window), spans in zip(seats, holders, strict=True):
            starts = [s for s, _e, _n in spans]
            who = [(pks[n], window) for _s, _e, n in spans]
            self.seats.setdefault((unit.id, category), []).append((starts, who))
            if category == "C":
                self.c_spans += [(s, e, people[n][0]) for s, e, n in spans]
        self.say(f"{len(people)} staff, {len(postings)} postings ({replacements} replacements)")

    def holder(self, unit_id: int, category: str, day: date) -> tuple[int | None, str | None]:
        seats = self.seats.get((unit_id, category))
        if not seats:
            return None, None
        starts, who = self.rng.choice(seats)
        return who[max(bisect.bisect_right(starts, day) - 1, 0)]

    # ------------------------------------------------------------------ incidents

    def incidents(self) -> None:
        from sqlalchemy import func, insert, select

        from models import AuditLog, Evidence, Incident, IncidentHistory, Staff, Warning, db

        b, demo = self.builder, self.demo
        units = b.units
        weights = [self.rng.choice([0.6, 0.6, 0.6, 1.0, 1.0, 1.7]) for _ in units]
        per_day = self.target / sum(len(b.working_days(*ym)) for ym in self.months)
        minor = ([r for r, _ in demo.MINOR], [w for _, w in demo.MINOR])
        major = ([r for r, _ in demo.MAJOR], [w for _, w in demo.MAJOR])
        bonus = ([r for r, _ in demo.BONUS], [w for _, w in demo.BONUS])
        recorders = [self.users["inspector"], self.users["inspector"], self.users["admin"]]
        next_id = (db.session.scalar(select(func.max(Incident.id))) or 0) + 1
        history_id = (db.session.scalar(select(func.max(IncidentHistory.id))) or 0) + 1
        audit_id = (db.session.scalar(select(func.max(AuditLog.id))) or 0) + 1
        codes = {u.id: u.code for u in units}
        staff_ids = dict(db.session.execute(select(Staff.id, Staff.staff_id)).all())
        now = b.now
        written = 0
        for y, m in self.months:
            days = b.working_days(y, m)
            n = round(per_day * len(days))
            rows, history, audit, evidence, warnings = [], [], [], [], []
            for unit_id in (u.id for u in self.rng.choices(units, weights, k=n)):
                roll = self.rng.random()
                rule = self.rng.choices(*(minor if roll < 0.85 else major if roll < 0.93 else bonus))[0]
                at = b.moment(self.rng.choice(days))
                if at is None:
                    continue
                staff_pk = window = None
                category = b.rule_staff(rule)
                if category:
                    staff_pk, window = self.holder(unit_id, category, at.date())
                note = self.rng.choice(demo.NOTES.get(rule, ("",)))
                voided = self.rng.random() < 0.02
                recorder = self.rng.choice(recorders)
                created = utc(min(at + timedelta(minutes=self.rng.randint(2, 40)), now))
                row = {
                    "id": next_id,
                    "unit_id": unit_id,
                    "staff_pk": staff_pk,
                    "window": window,
                    "rule_code": rule,
                    "occurred_at": utc(at),
                    "count": 1,
                    "note": note,
                    "public_text": f"经巡查发现:{note}" if rule.startswith("D") else note,
                    "deadline": None,
                    "rectified_on": None,
                    "exempt": False,
                    "status": "voided" if voided else "confirmed",
                    "void_reason": "经核实为误录,予以作废" if voided else None,
                    "voided_at": created + timedelta(hours=2) if voided else None,
                    "voided_by_id": self.users["admin"] if voided else None,
                    "source": "patrol" if rule.startswith("D") else "desk",
                    "recorded_by_id": recorder,
                    "created_at": created,
                }
                rows.append(row)
                snap = {
                    "unit": codes[unit_id],
                    "rule_code": rule,
                    "occurred_at": at.strftime("%Y-%m-%d %H:%M"),
                    "count": 1,
                    "staff": staff_ids.get(staff_pk),
                    "window": window,
                    "note": note,
                    "public_text": row["public_text"],
                    "deadline": None,
                    "rectified_on": None,
                    "exempt": False,
                    "linked_id": None,
                    "status": "confirmed",
                    "void_reason": None,
                }
                history.append(
                    {
                        "id": history_id,
                        "incident_id": next_id,
                        "at": created,
                        "by_id": recorder,
                        "action": "created",
                        "reason": "",
                        "snapshot": snap,
                    }
                )
                audit.append(
                    {
                        "id": audit_id,
                        "at": created,
                        "user_id": recorder,
                        "action": "incident.created",
                        "target": f"incident:{next_id}",
                        "before": None,
                        "after": snap,
                    }
                )
                history_id += 1
                audit_id += 1
                if voided:
                    gone = {**snap, "status": "voided", "void_reason": row["void_reason"]}
                    history.append(
                        {
                            "id": history_id,
                            "incident_id": next_id,
                            "at": row["voided_at"],
                            "by_id": self.users["admin"],
                            "action": "voided",
                            "reason": row["void_reason"],
                            "snapshot": gone,
                        }
                    )
                    audit.append(
                        {
                            "id": audit_id,
                            "at": row["voided_at"],
                            "user_id": self.users["admin"],
                            "action": "incident.voided",
                            "target": f"incident:{next_id}",
                            "before": snap,
                            "after": gone,
                        }
                    )
                    history_id += 1
                    audit_id += 1
                if self.rng.random() < 0.05:
                    evidence.append(
                        {
                            "incident_id": next_id,
                            "filename": f"现场照片{next_id}.jpg",
                            "stored_name": f"bench-{next_id:08d}.jpg",
                            "content_type": "image/jpeg",
                            "size": 180_000,
                            "uploaded_at": created,
                            "uploaded_by_id": recorder,
                        }
                    )
                next_id += 1
            for unit in units:  # a reminder a month for about half the units
                if self.rng.random() < 0.5:
                    at = b.moment(self.rng.choice(days)) if days else None
                    if at is not None:
                        staff_pk, window = self.holder(unit.id, "W", at.date())
                        warnings.append(
                            {
                                "unit_id": unit.id,
                                "staff_pk": staff_pk,
                                "window": window,
                                "rule_code": "D05b",
                                "given_at": utc(at),
                                "text": "提醒佩戴工牌",
                                "given_by_id": self.users["inspector"],
                            }
                        )
            for table, batch in (
                (Incident.__table__, rows),
                (IncidentHistory.__table__, history),
                (AuditLog.__table__, audit),
                (Evidence.__table__, evidence),
                (Warning.__table__, warnings),
            ):
                for i in range(0, len(batch), CHUNK):
                    db.session.execute(insert(table), batch[i : i + CHUNK])
            db.session.commit()
            written += len(rows)
            if m in (6, 12) or (y, m) == self.months[-1]:
                self.say(f"incidents up to {y}-{m:02d}: {written:,}")
        self.incident_count = written

    # ------------------------------------------------------------------ clock punches

    def punches(self) -> None:
        """Two punches a working day for every C staff member for the last 365 days, with a few misses,
        late punches and double presses (as services.demo.load_clock, for a whole year)."""
        from sqlalchemy import insert

        from models import ClockPunch, db
        from scoring import is_working_day

        b = self.builder
        since = b.today - timedelta(days=365)
        rows: set[tuple[str, datetime]] = set()
        day = since
        while day <= b.today:
            if is_working_day(day, b.calendar):
                for start, end, staff_id in self.c_spans:
                    if start > day or (end is not None and end < day):
                        continue
                    for base in (time(8, 25), time(16, 55)):
                        at = datetime.combine(day, base) + timedelta(seconds=self.rng.randint(0, 299))
                        if at > b.now:
                            continue
                        roll = self.rng.random()
                        if roll < 0.01:
                            continue  # missed
                        if roll < 0.015:
                            at += timedelta(minutes=9)  # late, outside the window
                        rows.add((staff_id, utc(at)))
                        if roll > 0.96:  # pressed twice
                            rows.add((staff_id, utc(at + timedelta(seconds=self.rng.randint(5, 40)))))
            day += timedelta(days=1)
        ordered = [{"staff_id": s, "punched_at": at} for s, at in sorted(rows)]
        for i in range(0, len(ordered), CHUNK):
            db.session.execute(insert(ClockPunch), ordered[i : i + CHUNK])
        db.session.commit()
        self.say(f"{len(ordered):,} clock punches of {len({s for *_x, s in self.c_spans})} C staff")

    # ------------------------------------------------------------------ months

    def close_months(self) -> None:
        """Every past month closed and published through the services, as an admin does each month."""
        from models import db
        from services import months
        from services.audit import reset_acting_user, set_acting_user

        token = set_acting_user(self.users["admin"])
        try:
            for y, m in self.months[:-1]:
                months.close(y, m)
                months.publish(y, m)
                db.session.commit()
                if m == 12:
                    self.say(f"closed and published up to {y}-{m:02d}")
            months.get_or_create(*self.months[-1])
            db.session.commit()
        finally:
            reset_acting_user(token)
        self.say(f"{len(self.months) - 1} months closed and published, {self.months[-1]} live")

    def fix_sequences(self) -> None:
        """Rows written with explicit ids: move PostgreSQL's sequences past them."""
        from sqlalchemy import text

        from models import db

        if db.engine.dialect.name != "postgresql":
            return
        for table in ("incident", "incident_history", "audit_log"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
        db.session.commit()

    def analyze(self) -> None:
        from sqlalchemy import text

        from models import db

        db.session.execute(text("ANALYZE"))
        db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database", help="a SQLite file path or a PostgreSQL URL (an empty database)")
    parser.add_argument("--incidents", type=int, default=INCIDENTS, help="about how many (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-close", action="store_true", help="leave every month open (faster)")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from services.demo import has_units

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(args.database), "SECRET_KEY": "bench"})
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        if has_units():
            raise SystemExit("the database already has units: give an empty one")
        seeder = Seeder(args.incidents, args.seed)
        seeder.base()
        seeder.roster()
        seeder.incidents()
        seeder.fix_sequences()
        seeder.punches()
        seeder.analyze()
        if not args.no_close:
            seeder.close_months()
        seeder.analyze()
        seeder.say(
            f"done: {UNITS} units, {STAFF} staff, {seeder.incident_count:,} incidents over "
            f"{len(seeder.months)} months ({seeder.months[0][0]}-{seeder.months[0][1]:02d} on)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
