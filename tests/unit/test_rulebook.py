"""The shipped rulebook as data, its validation and its dict round trip (scoring/rulebook.py)."""

from __future__ import annotations

import copy
import json
import tomllib
from datetime import date
from pathlib import Path

import pytest

from scoring import (
    FlagCode,
    RulebookError,
    RuleKind,
    Settings,
    default_rulebook_path,
    load_rulebook,
    parse_rulebook_toml,
    rulebook_from_dict,
    rulebook_to_dict,
)

# rulebook.md: code -> (points, kind, flags, applies)
EXPECTED = {
    "D01": (2, "deduction", (), "W"),
    "D02a": (2, "deduction", (), "W"),
    "D02b": (3, "deduction", (), "W"),
    "D02c": (5, "deduction", (), "W"),
    "D03": (2, "deduction", (), "W"),
    "D04a": (3, "deduction", (), "W"),
    "D04b": (5, "deduction", ("notice_feedback",), "W"),
    "D05a": (2, "deduction", (), "W"),
    "D05b": (3, "deduction", (), "W"),
    "D05c": (2, "deduction", (), "W"),
    "D06": (2, "deduction", (), "W"),
    "D07a": (2, "deduction", (), "W"),
    "D07b": (5, "deduction", (), "W"),
    "D08": (3, "deduction", (), "A"),
    "D09": (5, "deduction", (), "A"),
    "D10": (5, "deduction", (), "A"),
    "D11": (5, "deduction", ("notice_feedback", "quarter_ineligible"), "A"),
    "D12": (0, "deduction", ("notice_feedback", "quarter_ineligible"), "A"),
    "D13": (5, "deduction", ("discipline_report", "quarter_ineligible"), "A"),
    "D14": (5, "deduction", ("discipline_report", "quarter_ineligible"), "A"),
    "D15": (10, "deduction", ("discipline_report", "quarter_ineligible"), "A"),
    "D16": (5, "deduction", (), "C"),
    "D17": (5, "deduction", (), "C"),
    "D18": (5, "deduction", (), "C"),
    "D19a": (5, "deduction", (), "A"),
    "D19b": (5, "deduction", ("leadership_report",), "A"),
    "B01": (3, "bonus", (), "A"),
    "B02a": (3, "bonus", (), "A"),
    "B02b": (5, "bonus", (), "A"),
    "B02c": (10, "bonus", (), "A"),
    "B03": (2, "bonus", (), "A"),
    "B04": (3, "bonus", (), "A"),
    "B05": (2, "bonus", (), "A"),
    "B06": (2, "bonus", (), "A"),
}
PATROL = {"D01", "D02a", "D02b", "D02c", "D03", "D04a", "D04b", "D05a", "D05b", "D05c", "D06", "D07a", "D07b"}
PER_PERSON = {"D08", "D10", "D11", "D14"}


@pytest.fixture(scope="module")
def shipped():
    return load_rulebook(default_rulebook_path())


@pytest.fixture()
def good_dict(shipped):
    return rulebook_to_dict(shipped)


def test_shipped_file_is_where_the_package_says():
    path = default_rulebook_path()
    assert path.is_file()
    assert path.name == "anshan-2023.toml"
    assert path.parent.name == "rulebooks"


def test_shipped_header_and_settings(shipped):
    assert shipped.key == "anshan-2023"
    assert shipped.title
    assert shipped.effective_from == date(2023, 4, 19)
    assert shipped.settings == Settings()  # the defaults are the 2023 measures


def test_shipped_file_spells_out_every_setting():
    raw = tomllib.loads(default_rulebook_path().read_text(encoding="utf-8"))
    assert set(raw["settings"]) == set(Settings.__dataclass_fields__)


def test_every_rule_present_in_order_with_its_points(shipped):
    assert shipped.codes == tuple(EXPECTED)
    for code, (points, kind, flags, applies) in EXPECTED.items():
        rule = shipped.rule(code)
        assert rule.points == points, code
        assert rule.kind == RuleKind(kind), code
        assert sorted(rule.flags) == sorted(flags), code
        assert rule.applies == applies, code
        assert rule.title and rule.text and rule.group and rule.source, code


def test_rule_attributes(shipped):
    assert {r.code for r in shipped.rules if r.patrol} == PATROL
    assert {r.code for r in shipped.rules if r.per_person} == PER_PERSON
    assert {r.code for r in shipped.rules if r.warning_rule} == {"D04b", "D05b"}
    assert {r.code for r in shipped.rules if r.derived} == {"D19b"}
    assert {r.code: r.requires for r in shipped.rules if r.requires} == {
        "D06": ("exempt",),
        "D15": ("linked",),
        "D19a": ("deadline",),
    }
    groups = {r.group for r in shipped.rules}
    assert groups == {"值守窗口纪律", "单位管理", "综窗后场", "加分项目"}
    assert {r.code for r in shipped.rules if r.group == "综窗后场"} == {"D16", "D17", "D18"}
    assert all(r.group == "加分项目" for r in shipped.rules if r.kind == RuleKind.BONUS)
    assert shipped.rule("D04b").note  # the Policy for the unreadable figure is shown to admins


def test_round_trip_is_exact_and_json_ready(shipped):
    d = rulebook_to_dict(shipped)
    text = json.dumps(d, ensure_ascii=False)
    again = json.loads(text)
    assert again == d
    assert again["effective_from"] == "2023-04-19"
    assert rulebook_from_dict(again) == shipped
    assert rulebook_to_dict(rulebook_from_dict(again)) == d


def test_from_dict_fills_optional_rule_fields(good_dict):
    rule = good_dict["rules"][0]
    for name in ("flags", "group", "per_person", "requires", "derived", "patrol", "warning_rule", "source"):
        del rule[name]
    rb = rulebook_from_dict(good_dict)
    assert rb.rule("D01").patrol is False
    assert rb.rule("D01").flags == ()


def _rule(d: dict, code: str) -> dict:
    return next(r for r in d["rules"] if r["code"] == code)


# (what to do to the dict, rule named in the error, field named)
def _set(code, field, value):
    def mutate(d):
        _rule(d, code)[field] = value

    return mutate


def _delete(code, field):
    def mutate(d):
        del _rule(d, code)[field]

    return mutate


def _setting(field, value):
    def mutate(d):
        d["settings"][field] = value

    return mutate


def _top(field, value=None, delete=False):
    def mutate(d):
        if delete:
            del d[field]
        else:
            d[field] = value

    return mutate


def _duplicate(d):
    _rule(d, "D02b")["code"] = "D02c"


def _second_derived(d):
    _rule(d, "D19a")["requires"] = []
    _rule(d, "D19a")["derived"] = True


def _no_derived(d):
    _rule(d, "D19b")["derived"] = False


BROKEN = [
    pytest.param(_delete("D02c", "points"), "D02c", "points", id="missing-points"),
    pytest.param(_delete("B01", "kind"), "B01", "kind", id="missing-kind"),
    pytest.param(_set("D02c", "pionts", 5), "D02c", "pionts", id="unknown-field"),
    pytest.param(_set("D02c", "points", "5"), "D02c", "points", id="points-str"),
    pytest.param(_set("D02c", "points", 2.5), "D02c", "points", id="points-float"),
    pytest.param(_set("D02c", "points", -5), "D02c", "points", id="points-negative"),
    pytest.param(_set("D02c", "points", True), "D02c", "points", id="points-bool"),
    pytest.param(_set("D11", "flags", ["notify_boss"]), "D11", "flags", id="unknown-flag"),
    pytest.param(_set("D11", "flags", "notice_feedback"), "D11", "flags", id="flags-not-list"),
    pytest.param(_set("D03", "kind", "penalty"), "D03", "kind", id="unknown-kind"),
    pytest.param(_set("D03", "applies", "X"), "D03", "applies", id="unknown-applies"),
    pytest.param(_set("D06", "requires", ["photo"]), "D06", "requires", id="unknown-requirement"),
    pytest.param(_set("D08", "per_person", "yes"), "D08", "per_person", id="bool-as-str"),
    pytest.param(_set("D08", "title", ""), "D08", "title", id="empty-title"),
    pytest.param(_set("D08", "text", 3), "D08", "text", id="text-not-str"),
    pytest.param(_duplicate, "D02c", "code", id="duplicate-code"),
    pytest.param(_second_derived, "D19b", "derived", id="two-derived"),
    pytest.param(_no_derived, "D19a", "requires", id="deadline-without-derived"),
    pytest.param(_top("effective_from", "2023-02-30"), None, "effective_from", id="bad-date"),
    pytest.param(_top("effective_from", "19/04/2023"), None, "effective_from", id="date-format"),
    pytest.param(_top("key", delete=True), None, "key", id="missing-key"),
    pytest.param(_top("version", 2), None, "version", id="unknown-top-field"),
    pytest.param(_top("rules", []), None, "rules", id="no-rules"),
    pytest.param(_setting("bonus_cap", -20), None, "bonus_cap", id="setting-negative"),
    pytest.param(_setting("bonus_cap", "20"), None, "bonus_cap", id="setting-str"),
    pytest.param(_setting("bonus_capp", 20), None, "bonus_capp", id="setting-unknown"),
    pytest.param(_setting("unqualified_flag", "nope"), None, "unqualified_flag", id="setting-flag"),
    pytest.param(
        _setting("clock_in_morning", ["8:25", "08:30"]), None, "clock_in_morning", id="setting-time"
    ),
    pytest.param(
        _setting("clock_in_evening", ["17:00", "16:55"]), None, "clock_in_evening", id="setting-span"
    ),
    pytest.param(_setting("good_from", 95), None, "good_from", id="grade-bounds"),
]


@pytest.mark.parametrize(("mutate", "rule", "field"), BROKEN)
def test_broken_dict_names_rule_and_field(good_dict, mutate, rule, field):
    broken = copy.deepcopy(good_dict)
    mutate(broken)
    with pytest.raises(RulebookError) as info:
        rulebook_from_dict(broken)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.field == field
    assert field in str(err)
    assert err.rule == rule
    if rule is not None:
        assert f"规则 {rule} " in str(err)


def test_message_reads_as_documented(good_dict):
    _rule(good_dict, "D02c")["points"] = "五"
    with pytest.raises(RulebookError, match="^规则 D02c 的字段 points 必须是非负整数$"):
        rulebook_from_dict(good_dict)


def test_rule_without_code(good_dict):
    del good_dict["rules"][2]["code"]
    with pytest.raises(RulebookError, match="第 3 条规则缺少字段 code"):
        rulebook_from_dict(good_dict)


def test_not_a_mapping():
    with pytest.raises(RulebookError):
        rulebook_from_dict(["not", "a", "dict"])  # type: ignore[arg-type]


def _shipped_text() -> str:
    return default_rulebook_path().read_text(encoding="utf-8")


def _replace_in_rule(text: str, code: str, old: str, new: str) -> str:
    start = text.index(f'code = "{code}"')
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old) :]


def test_toml_syntax_error_names_the_line(tmp_path: Path):
    text = _replace_in_rule(_shipped_text(), "D05a", "points = 2", "points = = 2")
    line = text[: text.index("points = = 2")].count("\n") + 1
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    assert f"第 {line} 行" in str(info.value)
    assert "points = = 2" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "rule", "field"),
    [
        ("points = 2", "points = 2.0", "D05a", "points"),
        ("points = 2", 'points = "2"', "D05a", "points"),
        ("flags = []", 'flags = ["praise"]', "D05a", "flags"),
        ('kind = "deduction"', 'kind = "fine"', "D05a", "kind"),
        ('applies = "W"', 'applies = "Z"', "D05a", "applies"),
    ],
)
def test_broken_toml_file(tmp_path: Path, old, new, rule, field):
    path = tmp_path / "broken.toml"
    path.write_text(_replace_in_rule(_shipped_text(), rule, old, new), encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    assert (info.value.rule, info.value.field) == (rule, field)
    assert rule in str(info.value) and field in str(info.value)


def test_bad_date_in_toml():
    text = _shipped_text().replace("effective_from = 2023-04-19", "effective_from = 2023-04-19T08:00:00")
    with pytest.raises(RulebookError, match="effective_from"):
        parse_rulebook_toml(text)
    text = _shipped_text().replace("effective_from = 2023-04-19", "effective_from = 2023-04-31")
    with pytest.raises(RulebookError, match="第 .* 行"):  # not even a TOML date
        parse_rulebook_toml(text)


def test_settings_can_change_in_a_new_version(good_dict):
    good_dict["settings"]["bonus_cap"] = 15
    good_dict["key"] = "anshan-2025"
    good_dict["effective_from"] = "2025-01-01"
    rb = rulebook_from_dict(good_dict)
    assert rb.settings.bonus_cap == 15
    assert rb.effective_from == date(2025, 1, 1)


def test_flag_codes_are_the_spec_codes():
    assert {f.value for f in FlagCode} == {
        "notice_feedback",
        "discipline_report",
        "leadership_report",
        "quarter_ineligible",
        "replace_staff",
    }
