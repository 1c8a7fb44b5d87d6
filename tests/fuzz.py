"""The fuzzer of tests/app/test_fuzz.py: hostile requests built from the URL map, the query parameters the
views read and the fields of the forms they build, sent as each role, with two checks on every answer:

- never a 5xx (the app runs with TESTING, so a 500 arrives here as the exception itself, with its traceback);
- a POST that is refused (4xx, or a form shown again with an error) changed no table's row count.

Where the values come from:
- path parameters: the rule's converter and name (`<int:incident_id>`: the sample incident, 0, 2^31, 2^63,
  10^20…; `<month>`: 2024-03, 9999-12, 0001-01, 2024-13…);
- query parameters: every name the views' source reads (`request.args.get("x")`, `int_arg("x")`…) and the
  fields of the GET filter forms, plus a random name now and then;
- form fields: each POST route is first sent once with a probe field; the WTForms forms the view builds and
  the raw names it reads are recorded (see `Recorder`), so a new form or field is fuzzed without a list here.

Each example sends most fields a plausible value (a choice of the form, a valid date, the sample unit) and a
few fields a hostile one, so the request passes the easy checks and its hostile value reaches the deep ones.
Failures are collected rather than raised, so one run names every distinct 500 at once.
"""

from __future__ import annotations

import io
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from flask import Flask, g, has_request_context, request
from flask_wtf import FlaskForm
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import text
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FileField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    SelectField,
    SelectMultipleField,
)

from models import db

ROOT = Path(__file__).resolve().parent.parent
PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
STRONG_PASSWORD = "Fuzz-Passw0rd-2024!"

# ---------------------------------------------------------------- hostile values

HOSTILE_INTS = [
    "0",
    "-1",
    "2147483647",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "1" * 60,
    "-99999999999999999999",
    "00000000000000000001",
    "1e9",
    "1.5",
    "NaN",
    "²",
    "１２",
    "٣",
    " 7 ",
    "0x10",
]
HOSTILE_DATES = [
    "0001-01-01T00:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59",
    "9999-12-31T23:59:59",
    "0001-01-01 00:00",
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2024-02-30",
    "2024-02-29T24:00",
    "2023-02-29",
    "1970-01-01T00:00",
    "2100-01-01T00:00",
    "2024-03-05T09:00+08:00",
    "２０２４-０３-０５",
]
HOSTILE_MONTHS = [
    "9999-12",
    "0001-01",
    "0000-01",
    "2024-13",
    "2024-00",
    "2024-1",
    "99999-01",
    "-2024-01",
    "2024-03-05",
    "２０２４-０３",
    "٢٠٢٤-٠٣",
    "1899-12",
    "2100-01",
]
HOSTILE_PERIODS = [
    "9999-Q4",
    "0001-Q1",
    "0000",
    "9999",
    "2024-Q5",
    "2024-Q0",
    "²²²²",
    "²²²²-Q1",
    "２０２４-Q1",
]
HOSTILE_TEXT = [
    "",
    " ",
    "\t",
    "\x00",
    "a\x00b",
    "\x01\x1f\x7f",
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    "{{7*7}}",
    "=1+1",
    "'; DROP TABLE incidents; --",
    "%",
    "%00",
    "_",
    "\\",
    "../../etc/passwd",
    "😀" * 8,
    "\u202e\u0644\u0627",
    "\r\n",
    "x" * 5000,
    "中" * 3000,
    "//evil.example",
    "/%0A/evil.example",
    "/\t/evil.example",
    "true",
    "on",
    "None",
    "[]",
]
HOSTILE = HOSTILE_INTS + HOSTILE_DATES + HOSTILE_MONTHS + HOSTILE_PERIODS + HOSTILE_TEXT

# Plausible values for a name that no form describes, by what the name says.
NAME_HINTS: list[tuple[str, list[str]]] = [
    (r"month", ["2024-03", "2024-02", "2023-12"]),
    (r"year", ["2024", "2023"]),
    (r"page", ["1", "2"]),
    (r"period", ["2024-Q1", "2023"]),
    (r"date|day|_on$|deadline", ["2024-03-05", "2024-03-20"]),
    (r"time|_at$", ["2024-03-05T09:00", "09:30"]),
    (r"next", ["/admin/", "/portal/", "/admin/incidents?month=2024-03"]),
    (r"format", ["xlsx", "pdf", "csv", "html"]),
    (r"lang", ["zh_CN", "en"]),
    (r"window", ["1", "2"]),
    (r"rule", ["D01", "D04a", "B01"]),
    (r"count", ["1", "2"]),
    (r"kind", ["units", "staff", "incidents", "clock", "calendar"]),
    (r"flag", ["notice_feedback", "discipline_report"]),
    (r"status", ["confirmed", "proposed", "voided"]),
    (r"screen", ["大厅一号屏"]),
]

# Query parameters every page may take (the app's own, and some a crawler sends).
EXTRA_QUERY_NAMES = ["lang", "next", "page", "month", "year", "unit", "unit_id", "q", "sort", "format", "v"]

PATH_HINTS = {
    "month": ["2024-03", "2024-02"],
    "period": ["2024-Q1", "2023"],
    "key": ["anshan-2023"],
    "day": ["2024-03-05", "2024-03-09"],
    "token": ["t" * 32],
    "kind": ["units", "incidents"],
    "flag": ["notice_feedback", "discipline_report"],
}

QUERY_PATTERNS = [
    re.compile(r"""request\.args\.get(?:list)?\(\s*["'](\w+)["']"""),
    re.compile(r"""request\.args\[\s*["'](\w+)["']"""),
    re.compile(r"""\b(?:int|month|year|page|date|day)_arg\(\s*["'](\w+)["']"""),
]


def query_names_in_source() -> list[str]:
    """Every query parameter name the views read, found in the app's source (not the tests')."""
    names: set[str] = set()
    skipped = {"tests", "migrations", "bench", "static", "templates", "translations", "instance"}
    for folder, dirs, files in os.walk(ROOT):
        # Prune while walking: the virtualenv alone holds thousands of files.
        dirs[:] = [
            d for d in dirs if not d.startswith(".") and d not in skipped and not d.endswith(".egg-info")
        ]
        for file in files:
            if file.endswith(".py"):
                source = Path(folder, file).read_text(encoding="utf-8")
                for pattern in QUERY_PATTERNS:
                    names.update(pattern.findall(source))
    return sorted(names)


def filter_form_fields() -> list[str]:
    """The fields of the forms read from the query string (GET filters: the forms without a CSRF token)."""
    import admin  # noqa: F401, E401 - the views' modules define the forms

    names: set[str] = set()
    stack = list(FlaskForm.__subclasses__())
    while stack:
        form_class = stack.pop()
        stack.extend(form_class.__subclasses__())
        if getattr(form_class.Meta, "csrf", True) is False:
            names.update(
                name for name in dir(form_class) if hasattr(getattr(form_class, name, None), "field_class")
            )
    return sorted(names)


# ---------------------------------------------------------------- recording what a view reads


@dataclass
class FieldSpec:
    """One form field as the view built it: its kind, its choices, its value before any input."""

    name: str
    kind: str
    choices: list[str] = field(default_factory=list)
    value: str | None = None


@dataclass
class Seen:
    names: set[str] = field(default_factory=set)
    fields: dict[str, FieldSpec] = field(default_factory=dict)


def _field_kind(f) -> str:
    for kind, cls in (
        ("file", (FileField, MultipleFileField)),
        ("multi", SelectMultipleField),
        ("select", SelectField),
        ("datetime", DateTimeLocalField),
        ("date", DateField),
        ("int", IntegerField),
        ("bool", BooleanField),
        ("password", PasswordField),
    ):
        if isinstance(f, cls):
            return kind
    return "text"


def _choices(f) -> list[str]:
    try:
        return [str(choice[0]) for choice in (getattr(f, "choices", None) or [])]
    except (TypeError, ValueError, IndexError):
        return []


class Recorder:
    """While installed, notes per endpoint the parameter names a view reads and the forms it builds."""

    def __init__(self):
        self.seen: dict[str, Seen] = {}

    def _current(self) -> Seen | None:
        if not has_request_context() or request.endpoint is None:
            return None
        return self.seen.setdefault(request.endpoint, Seen())

    def install(self, app: Flask, monkeypatch) -> None:
        recorder = self

        class RecordingDict(ImmutableMultiDict):
            def _note(self, key):
                seen = recorder._current()
                if seen is not None and isinstance(key, str):
                    seen.names.add(key)

            def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
                self._note(key)
                return super().get(key, default, type)

            def getlist(self, key, type=None):  # noqa: A002
                self._note(key)
                return super().getlist(key, type)

            def __getitem__(self, key):
                self._note(key)
                return super().__getitem__(key)

            def __contains__(self, key):
                self._note(key)
                return super().__contains__(key)

        class RecordingRequest(app.request_class):
            parameter_storage_class = RecordingDict

        monkeypatch.setattr(app, "request_class", RecordingRequest)
        original_init = FlaskForm.__init__

        def init(form, *args, **kwargs):
            original_init(form, *args, **kwargs)
            if has_request_context():
                g.setdefault("_fuzz_forms", []).append(form)

        monkeypatch.setattr(FlaskForm, "__init__", init)

        def note_forms(response):
            seen = recorder._current()
            for form in g.pop("_fuzz_forms", []) if seen is not None else []:
                for f in form:
                    if f.type in ("CSRFTokenField", "SubmitField"):
                        continue
                    data = f.object_data if f.object_data is not None else f.data
                    value = None if data is None or isinstance(data, (list, dict)) else str(data)
                    seen.fields[f.name] = FieldSpec(f.name, _field_kind(f), _choices(f), value)
            return response

        # The app is set up already (after_request may not be called): put ours into a copy of the
        # table of after-request functions, which monkeypatch puts back when the test ends.
        funcs = {name: list(fs) for name, fs in app.after_request_funcs.items()}
        funcs[None] = [*funcs.get(None, []), note_forms]
        monkeypatch.setattr(app, "after_request_funcs", funcs)


# ---------------------------------------------------------------- the sample rows


@dataclass
class World:
    """Ids of the sample rows, by the name of the parameter that takes them."""

    ints: dict[str, list[int]]
    users: dict[str, tuple[int, str]]  # role -> (id, username)

    def plausible_int(self, name: str) -> list[str]:
        for key in (name, name.removesuffix("_id"), f"{name}_id", name.removesuffix("_pk")):
            if key in self.ints:
                return [str(v) for v in self.ints[key]]
        return ["1"]


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


FILES = {
    "png": (png_bytes, "photo.png"),
    "empty": (lambda: b"", "empty.png"),
    "fake": (lambda: b"GIF89a\x00\x00not really", "fake.png"),
    "csv": (lambda: b"code,name,windows\nFZ1,<script>x</script>,1;2\nFZ2,=1+1,\x00\n", "units.csv"),
    "zip": (lambda: b"PK\x03\x04" + b"\x00" * 40, "sheet.xlsx"),
}


# ---------------------------------------------------------------- building requests


def plausible_for_name(name: str, world: World) -> list[str]:
    lowered = name.lower()
    if lowered in {"unit", "unit_id", "staff", "staff_pk", "job", "incident_id", "linked_id"}:
        return world.plausible_int(lowered.replace("job", "job_id"))
    for pattern, values in NAME_HINTS:
        if re.search(pattern, lowered):
            return values
    return ["1", "测试"]


def plausible_for_field(spec: FieldSpec, world: World) -> list:
    if spec.kind == "file":
        return ["file:png"]
    if spec.kind in ("select", "multi"):
        return spec.choices or plausible_for_name(spec.name, world)
    values = [spec.value] if spec.value not in (None, "", "None") else []
    extra = {
        "datetime": ["2024-03-05T09:00", "2024-03-20T09:30"],
        "date": ["2024-03-05", "2024-03-20"],
        "int": ["1", "2"],
        "bool": ["y", ""],
        "password": [STRONG_PASSWORD],
    }.get(spec.kind)
    return values + (extra or plausible_for_name(spec.name, world))


def hostile_for(kind: str) -> st.SearchStrategy:
    """A hostile value: mostly from the lists above (the values that broke apps before), some random text."""
    return st.one_of(
        st.sampled_from(favoured(kind)),
        st.sampled_from(HOSTILE),
        st.text(max_size=40),
        st.sampled_from(["file:empty", "file:fake", "file:csv", "file:zip"])
        if kind == "file"
        else st.nothing(),
    )


def path_value(converter: str | None, name: str, world: World) -> st.SearchStrategy:
    if converter == "int":
        plausible = world.plausible_int(name)
        hostile = st.sampled_from(
            ["0", "1", "2147483647", "2147483648", "9223372036854775808", "99999999999999999999", "-1", "１"]
        )
    else:
        plausible = PATH_HINTS.get(name, ["x"])
        hostile = st.one_of(
            st.sampled_from(
                {"month": HOSTILE_MONTHS, "period": HOSTILE_PERIODS, "day": HOSTILE_DATES}.get(
                    name, HOSTILE_INTS
                )
            ),
            st.sampled_from(HOSTILE_TEXT + HOSTILE_DATES + HOSTILE_INTS),
            st.text(min_size=1, max_size=30),
        )
    return st.one_of(st.sampled_from(plausible), st.sampled_from(plausible), hostile)


def plausible_path_value(converter: str | None, name: str, world: World) -> str:
    return world.plausible_int(name)[0] if converter == "int" else PATH_HINTS.get(name, ["x"])[0]


def build_path(draw, rule: str, world: World) -> str:
    """The rule's path with drawn values (or, with `draw` None, the plausible value of each parameter)."""
    out, last = [], 0
    for match in PARAM.finditer(rule):
        out.append(rule[last : match.start()])
        converter, name = match.group(1), match.group(2)
        if draw is None:
            value = plausible_path_value(converter, name, world)
        else:
            value = draw(path_value(converter, name, world))
        out.append(quote(value, safe="") or "x")
        last = match.end()
    out.append(rule[last:])
    return "".join(out)


def favoured(kind: str) -> list[str]:
    return {
        "datetime": HOSTILE_DATES,
        "date": HOSTILE_DATES,
        "int": HOSTILE_INTS,
        "select": HOSTILE_INTS + HOSTILE_TEXT,
        "multi": HOSTILE_INTS,
        "file": ["file:empty", "file:fake", "file:csv", "file:zip"],
    }.get(kind, HOSTILE)


MAX_SWEPT = 8
# Every text field gets a long text in the sweep: a column shorter than the form lets through is a
# PostgreSQL error (SQLite does not check a VARCHAR's length).
LONG_TEXT = "中" * 3000


def field_sweep(specs: dict[str, FieldSpec], raw_names: list[str], world: World, start: int):
    """One form per field: every field plausible but that one, which gets two hostile values in turn (the
    value rotates with `start`, so the sweep of all forms goes through the lists). Deterministic."""
    names = sorted(set(specs) | set(raw_names))
    base = {}
    for name in names:
        spec = specs.get(name) or FieldSpec(name, "text")
        options = plausible_for_field(spec, world)
        base[name] = options[0] if options else ""
    # A form of many fields (a new rulebook version: one per rule) is swept through a spread of them.
    swept = names if len(names) <= MAX_SWEPT else names[:: -(-len(names) // MAX_SWEPT)]
    for i, name in enumerate(swept):
        kind = (specs.get(name) or FieldSpec(name, "text")).kind
        first = (
            LONG_TEXT if kind in ("text", "password") else favoured(kind)[(start + i) % len(favoured(kind))]
        )
        values = [first, HOSTILE[(start + 7 * i) % len(HOSTILE)]]
        for value in values[: 2 if bigger() else 1]:
            yield name, [(n, value if n == name else base[n]) for n in names]


def fill(draw, specs: dict[str, FieldSpec], raw_names: list[str], world: World) -> list[tuple[str, object]]:
    """Plausible values for every field, hostile ones for a few, a random extra field now and then."""
    names = sorted(set(specs) | set(raw_names))
    # Mostly one or two hostile fields, so the rest passes the form's checks and the hostile value goes deep.
    corrupt = draw(st.sets(st.sampled_from(names), min_size=1, max_size=2)) if names else set()
    dropped = {draw(st.sampled_from(names))} if names and draw(st.integers(0, 7)) == 0 else set()
    pairs: list[tuple[str, object]] = []
    for name in names:
        if name in dropped:
            continue
        spec = specs.get(name) or FieldSpec(name, "text")
        if name in corrupt:
            values = [draw(hostile_for(spec.kind))]
            if draw(st.booleans()) and spec.kind in ("multi", "select", "text"):
                values.append(draw(hostile_for(spec.kind)))  # the same field twice
        else:
            options = plausible_for_field(spec, world)
            if spec.kind == "multi":
                values = draw(st.lists(st.sampled_from(options), min_size=1, max_size=3)) if options else []
            else:
                values = [draw(st.sampled_from(options))]
        pairs.extend((name, v) for v in values)
    if draw(st.integers(0, 4)) == 0:
        pairs.append(
            (
                draw(st.sampled_from(["x", "id", "__proto__", "csrf_token", "a\x00"])),
                draw(hostile_for("text")),
            )
        )
    return pairs


def to_form(pairs: list[tuple[str, object]]) -> tuple[dict, bool]:
    """Werkzeug's test client data: lists for repeated names, (stream, filename) for files."""
    data: dict[str, list] = {}
    has_file = False
    for name, value in pairs:
        if isinstance(value, str) and value.startswith("file:"):
            make, filename = FILES.get(value[5:], FILES["png"])
            value = (io.BytesIO(make()), filename)
            has_file = True
        data.setdefault(name, []).append(value)
    return data, has_file


# ---------------------------------------------------------------- sending and checking


def count_query() -> text:
    """One query: the row count of every table, so a refused request's writes show as a change."""
    parts = [f'(SELECT COUNT(*) FROM "{t.name}") AS "{t.name}"' for t in db.metadata.sorted_tables]
    return text("SELECT " + ", ".join(parts))


def row_counts(query) -> dict[str, int]:
    row = db.session.execute(query).mappings().one()
    db.session.rollback()
    return dict(row)


ERROR_MARKERS = ('class="error"', "has-error", "flash-error")


def refused(response) -> bool:
    """A 4xx, or a 200 that shows the form again with an error (a success redirects)."""
    if response.status_code >= 400:
        return True
    if response.status_code == 200 and response.mimetype == "text/html":
        body = response.get_data(as_text=True)
        return any(marker in body for marker in ERROR_MARKERS)
    return False


@dataclass
class Failure:
    key: str
    detail: str


@dataclass
class Log:
    """What a fuzzing test sent and found."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # where the time goes, to keep the suite quick

    def fail(self, key: str, detail: str) -> None:
        self.failures.setdefault(key, Failure(key, detail))

    def summary(self) -> str:
        slowest = sorted(self.seconds.items(), key=lambda kv: -kv[1])[:8]
        return (
            f"{self.requests} requests, statuses {dict(sorted(self.statuses.items()))}; slowest: "
            + ", ".join(f"{k} {v:.2f}s" for k, v in slowest)
        )

    def report(self) -> str:
        return "\n\n".join(f"{f.key}\n{f.detail}" for f in self.failures.values())


def app_frame(error: BaseException) -> str:
    """The deepest frame of the app's own code in a traceback: where the 500 comes from."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if str(ROOT) in f.filename and "/.venv/" not in f.filename and "/tests/" not in f.filename
    ]
    frame = frames[-1] if frames else traceback.extract_tb(error.__traceback__)[-1]
    name = frame.filename.removeprefix(f"{ROOT}/")
    return f"{name}:{frame.lineno} ({frame.line})"


def send(
    client,
    method: str,
    path: str,
    query: list,
    form: list | None,
    headers: dict,
    log: Log,
    counts=None,
    label=None,
):
    """One request; a 5xx, an exception, or a refused POST that wrote something is logged as a failure."""
    data, has_file = to_form(form or [])
    before = row_counts(counts) if counts is not None else None
    g.pop("_login_user", None)
    shown = [(k, v if isinstance(v, str) else "<file>") for k, v in (form or [])]
    what = f"{method} {path} query={query!r} form={shown!r}"
    started = time.perf_counter()
    try:
        response = client.open(
            path,
            method=method,
            query_string=query,
            data=data if method != "GET" else None,
            content_type="multipart/form-data" if has_file else None,
            headers=headers,
        )
    except Exception as error:  # noqa: BLE001 - a 500: note it and go on, to find them all in one run
        db.session.rollback()
        db.session.remove()
        where = app_frame(error)
        log.requests += 1
        log.statuses[500] = log.statuses.get(500, 0) + 1
        log.fail(
            f"500 {type(error).__name__} at {where}", f"{what}\n{type(error).__name__}: {str(error)[:300]}"
        )
        return None
    finally:
        g.pop("_login_user", None)
        key = f"{method} {label or path}"
        log.seconds[key] = log.seconds.get(key, 0.0) + time.perf_counter() - started
    db.session.remove()
    log.requests += 1
    log.statuses[response.status_code] = log.statuses.get(response.status_code, 0) + 1
    if response.status_code >= 500:
        log.fail(f"{response.status_code} at {method} {path}", what)
    elif before is not None and refused(response):
        after = row_counts(counts)
        changed = {name: after[name] - before[name] for name in after if after[name] != before[name]}
        if changed:
            log.fail(
                f"refused {method} wrote {sorted(changed)}", f"{what}\n-> {response.status_code} {changed}"
            )
    return response


def bigger() -> bool:
    return bool(os.environ.get("FUZZ_EXAMPLES"))


def examples(default: int) -> int:
    """FUZZ_EXAMPLES=2000 runs a bigger fuzz locally; the suite's default keeps CI quick."""
    return int(os.environ.get("FUZZ_EXAMPLES") or default)
