"""Official documents (公文, GB/T 9704 layout): 文号, dates in Chinese numerals, PDFs through WeasyPrint.

Every printable the hall issues (the monthly bulletin, the violation notice, the detail table, the patrol
sheet, the letters to the discipline and leadership groups, the praise letter, the yearly summary) is a
template extending `templates/documents/_official.html`. The same HTML prints from the browser (print CSS,
@page A4) and is rendered to PDF here, on the server, with WeasyPrint and Debian's Noto CJK fonts.

When a document gets its 文号 (document number, e.g. 市政务服务中心〔2026〕11号)
----------------------------------------------------------------------------------
A number is given once, when the document is *issued*, and then kept (`IssuedDocument`, keyed by what was
issued), so a reprint or the PDF shows the same number:

- the monthly bulletin (key "bulletin:YYYY-MM"): when the month is published (`issue_document` from the
  months service's publish, or lazily the first time the published bulletin is shown). A month that is
  open or closed but not published is a draft and has no number;
- the letters to the discipline / leadership group, the praise letter, the yearly summary: the first time
  the letter is generated (its view calls `issue_document(key, ...)` and commits);
- the violation notice, the detail table and the patrol sheet are forms (表单), not numbered documents:
  they keep their own 编号 (the notice's is derived from the incident) and take no number of the sequence.

The sequence is per year (the year of the issuing day): `next_document_number(year)` increments the
year's counter row in the caller's transaction (an UPDATE, which locks the row on PostgreSQL until the
caller commits, so two issuers never get the same number). The prefix is a setting (see `get_settings`),
read when the number is given and stored with it.

Services flush; the caller commits.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import DocumentCounter, IssuedDocument, Setting, db
from services import DomainError
from services.audit import record
from services.clock import hall_today

SETTING_KEY = "documents"
DEFAULTS: dict[str, str] = {
    "office": "市政务服务中心",  # 发文机关: the red header and the signature
    "prefix": "市政务服务中心",  # 发文机关代字 of the 文号: prefix〔2026〕11号
}
MAX_LEN = {"office": 40, "prefix": 24}
# The CJK font the documents name (Debian's fonts-noto-cjk); documents.css names the same families.
CJK_FONTS = ("Noto Serif CJK SC", "Noto Sans CJK SC")

_DIGITS = "〇一二三四五六七八九"


# ---------------------------------------------------------------- settings


def get_settings() -> dict[str, str]:
    """The issuing office's name and the 文号 prefix (defaults for anything missing or malformed)."""
    row = db.session.get(Setting, SETTING_KEY)
    value = row.value if row is not None and isinstance(row.value, dict) else {}
    out = dict(DEFAULTS)
    for key in DEFAULTS:
        if isinstance(value.get(key), str) and value[key].strip():
            out[key] = value[key].strip()
    return out


def issuing_office() -> str:
    """The issuing office's name (发文机关), the one name every document and page that issues something signs
    with: the official documents' red header and signature, and the violation notice wherever it shows
    (its red-header print and the preview on the unit's item page). An admin sets it on 公文设置; the
    hall's name (`HALL_NAME`, the place: the header and the hall screen) is not an office."""
    return get_settings()["office"]


def save_settings(office: str, prefix: str) -> dict[str, str]:
    """Store the office and the prefix (DomainError in Chinese, nothing written), audited."""
    values = {"office": (office or "").strip(), "prefix": (prefix or "").strip()}
    problems = []
    if not values["office"]:
        problems.append("请填写发文机关名称")
    elif len(values["office"]) > MAX_LEN["office"]:
        problems.append(f"发文机关名称不能超过 {MAX_LEN['office']} 个字")
    if not values["prefix"]:
        problems.append("请填写发文字号的机关代字")
    elif len(values["prefix"]) > MAX_LEN["prefix"]:
        problems.append(f"机关代字不能超过 {MAX_LEN['prefix']} 个字")
    elif any(ch in values["prefix"] for ch in "〔〕[]()()"):
        problems.append("机关代字不含年份括号,年份和序号由系统生成")
    if problems:
        raise DomainError(";".join(problems))
    before = get_settings()
    row = db.session.get(Setting, SETTING_KEY)
    if row is None:
        db.session.add(Setting(key=SETTING_KEY, value=values))
    else:
        row.value = values
    if before != values:
        record("documents.settings", "setting:documents", before=before, after=values)
    db.session.flush()
    return values


# ---------------------------------------------------------------- numbers


def format_number(prefix: str, year: int, seq: int) -> str:
    return f"{prefix}〔{year}〕{seq}号"


def _next_seq(year: int) -> int:
    """Increment the year's counter in the caller's transaction and return the new value."""
    bumped = db.session.execute(
        update(DocumentCounter)
        .where(DocumentCounter.year == year)
        .values(last=DocumentCounter.last + 1)
        .returning(DocumentCounter.last)
    ).scalar_one_or_none()
    if bumped is not None:
        return bumped
    try:
        with db.session.begin_nested():
            db.session.add(DocumentCounter(year=year, last=1))
        return 1
    except IntegrityError:  # another issuer created the year's row meanwhile: bump that one
        return _next_seq(year)


def next_document_number(year: int) -> str:
    """The year's next 文号 (e.g. 市政务服务中心〔2026〕11号), counted in the caller's transaction."""
    if not isinstance(year, int) or not 2000 <= year <= 2999:
        raise DomainError("年份无效")
    return format_number(get_settings()["prefix"], year, _next_seq(year))


def issued(key: str) -> IssuedDocument | None:
    """The document issued under `key`, if it has been."""
    return db.session.scalar(select(IssuedDocument).where(IssuedDocument.key == key))


def issue_document(key: str, kind: str, issued_on: date | None = None) -> IssuedDocument:
    """The number of the document `key`: the one it was given, or the year's next (flushed, not committed)."""
    row = issued(key)
    if row is not None:
        return row
    day = issued_on or hall_today()
    seq = _next_seq(day.year)
    row = IssuedDocument(
        key=key,
        kind=kind,
        year=day.year,
        seq=seq,
        number=format_number(get_settings()["prefix"], day.year, seq),
        issued_on=day,
    )
    db.session.add(row)
    record("document.issue", f"document:{key}", after={"number": row.number, "issued_on": day.isoformat()})
    db.session.flush()
    return row


# ---------------------------------------------------------------- Chinese dates


def _small_number(n: int) -> str:
    """1..31 in Chinese numerals as dates write them: 一, 十, 十一, 二十, 二十一, 三十."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def chinese_date(day: date) -> str:
    """A date as official documents write it: 2026-11-30 → 二〇二六年十一月三十日."""
    year = "".join(_DIGITS[int(d)] for d in f"{day.year:04d}")
    return f"{year}年{_small_number(day.month)}月{_small_number(day.day)}日"


# ---------------------------------------------------------------- PDF


class _StaticFetcher:
    """WeasyPrint's URL fetcher: only the app's own static files, read from disk (never the network)."""

    def __init__(self, static_folder: str, static_url_path: str):
        self.root = Path(static_folder).resolve()
        self.prefix = static_url_path.rstrip("/") + "/"

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> dict:
        path = unquote(urlsplit(url).path)
        at = path.find(self.prefix)
        if at < 0:
            raise ValueError(f"not a static file: {url}")
        target = (self.root / path[at + len(self.prefix) :]).resolve()
        if not target.is_file() or self.root not in target.parents:
            raise ValueError(f"no such static file: {url}")
        mime = {
            ".css": "text/css",
            ".svg": "image/svg+xml",
            ".png": "image/png",
            ".jpg": "image/jpeg",
            ".jpeg": "image/jpeg",
        }.get(target.suffix.lower(), "application/octet-stream")
        return {"string": target.read_bytes(), "mime_type": mime, "redirected_url": url}


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """The PDF of a document's HTML (print media, A4 from its @page rules, fonts from fontconfig).

    Stylesheets and images are read from the app's static folder (a URL outside it is left out), so a
    document renders the same on a server without network access.
    """
    import weasyprint  # imported here: it is slow to import and only documents need it
    from flask import current_app

    fetcher = _StaticFetcher(current_app.static_folder or "static", current_app.static_url_path or "/static")
    document = weasyprint.HTML(
        string=html, base_url=base_url or "http://hallscore.invalid/", url_fetcher=fetcher, media_type="print"
    )
    return document.write_pdf()


def pdf_response(html: str, filename: str, base_url: str | None = None):
    """A download response of the rendered PDF, named `filename` (Chinese names as RFC 5987 filename*)."""
    from urllib.parse import quote

    from flask import Response

    body = render_pdf(html, base_url)
    if not filename.endswith(".pdf"):
        filename += ".pdf"
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in filename)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- the documents' numbers


def bulletin_key(year: int, month: int) -> str:
    return f"bulletin:{year:04d}-{month:02d}"


def issue_bulletin(row) -> IssuedDocument | None:
    """The published month's bulletin gets its 文号 (once: a month reopened and published again keeps it).

    Called by services.months.publish in the publishing transaction; a month published before documents
    had numbers gets its number the first time its bulletin is shown (`bulletin_meta`)."""
    if row is None or row.status != "published":
        return None
    from services.clock import to_hall

    day = to_hall(row.published_at).date() if row.published_at else hall_today()
    return issue_document(bulletin_key(row.year, row.month), "bulletin", day)


def bulletin_meta(row) -> dict[str, Any]:
    """What the bulletin's red header and signature show: the 文号 and the date of publication once the
    month is published (the caller commits: a number given here is kept); a draft mark before."""
    if row is not None and row.status == "published":
        from services.clock import to_hall

        issued_row = issue_bulletin(row)
        day = to_hall(row.published_at).date() if row.published_at else issued_row.issued_on
        return {"doc_number": issued_row.number, "issued_on": day, "draft": ""}
    if row is not None and row.status == "closed":
        return {"doc_number": "", "issued_on": None, "draft": "已关账,尚未发布:文号在发布时编排"}
    return {"doc_number": "", "issued_on": None, "draft": "实时数据,尚未关账,仅供参考"}


def load_demo() -> dict[str, int]:
    """The demo hall's documents numbered as if issued on their days.

    The demo loader publishes its past months now and dates the publications afterwards, so each
    published month's bulletin is (re)issued on its publication day, and every issued document is
    renumbered per year in the order of issue (the counters follow). Returns {"documents": n}."""
    from models import Month

    for month in db.session.scalars(select(Month).where(Month.status == "published")):
        issue_bulletin(month)  # a month published without a number gets one
    issued_rows = {row.key: row for row in db.session.scalars(select(IssuedDocument))}
    months_by_key = {
        bulletin_key(m.year, m.month): m
        for m in db.session.scalars(select(Month).where(Month.published_at.is_not(None)))
    }
    from services.clock import to_hall

    for key, row in issued_rows.items():
        month = months_by_key.get(key)
        if month is not None:
            row.issued_on = to_hall(month.published_at).date()
            row.year = row.issued_on.year
    for row in issued_rows.values():  # out of the way of the unique (year, seq) while renumbering
        row.seq = -row.id
    db.session.flush()
    prefix = get_settings()["prefix"]
    last: dict[int, int] = {}
    for row in sorted(issued_rows.values(), key=lambda r: (r.issued_on, r.id)):
        last[row.year] = last.get(row.year, 0) + 1
        row.seq = last[row.year]
        row.number = format_number(prefix, row.year, row.seq)
    db.session.execute(DocumentCounter.__table__.delete())
    for year, seq in last.items():
        db.session.add(DocumentCounter(year=year, last=seq))
    db.session.flush()
    return {"documents": len(issued_rows)}
