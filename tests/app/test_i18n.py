"""The English catalog: the login page switches language, and the shipped catalog is complete and compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
EN_DIR = ROOT / "translations" / "en" / "LC_MESSAGES"


def _read_po():
    with open(EN_DIR / "messages.po", "rb") as f:
        return read_po(f, locale="en")


def test_login_in_english_with_lang_param(client):
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Log in to Hall Assessment" in html
    assert "Log in" in html and "Username" in html and "Password" in html
    assert "登录大厅考核系统" not in html


def test_login_in_english_with_lang_cookie(client):
    client.set_cookie("lang", "en")
    html = client.get("/login").get_data(as_text=True)
    assert "Log in to Hall Assessment" in html


def test_login_in_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录大厅考核系统" in html and "用户名" in html
    assert "Log in" not in html


def test_unknown_lang_falls_back_to_chinese(client):
    html = client.get("/login?lang=fr").get_data(as_text=True)
    assert "登录大厅考核系统" in html


def test_english_catalog_has_no_empty_msgstr():
    catalog = _read_po()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100
    empty = [m.id for m in messages if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert empty == [], f"{len(empty)} untranslated: {empty[:10]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy: {fuzzy[:10]}"


def test_english_catalog_placeholders_match():
    # Babel's checkers: the python-format placeholders of every msgstr match those of its msgid.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in _read_po().check()]
    assert problems == []


def test_compiled_catalog_matches_po():
    """messages.mo ships in the tree; it must be recompiled (`make translations`) whenever the .po changes."""
    with open(EN_DIR / "messages.mo", "rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    source = {m.id: m.string for m in _read_po() if m.id and not m.fuzzy}
    assert compiled == source
