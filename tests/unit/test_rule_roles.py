"""Issue 8 item 14: points and rule roles come from the rulebook.

The rulebook marks which rule carries a rectification deadline, which is derived from a missed deadline,
which escalates by its monthly count, which two are detected and which is added on an inspection: another
hall's rulebook with other codes behaves the same. `signed_points` is the one home of the sign rule.
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime

import pytest

from scoring import (
    ROLE_SETTINGS,
    IncidentIn,
    Punch,
    RosterEntry,
    RulebookError,
    RuleKind,
    Settings,
    UnitIn,
    default_rulebook_path,
    detect_d13,
    detect_d16,
    load_rulebook,
    parse_rulebook_toml,
    rulebook_from_dict,
    rulebook_from_stored,
    rulebook_to_dict,
    score_month,
    signed_points,
)

SHIPPED = load_rulebook(default_rulebook_path())
RENAMED = {"D19a": "X19a", "D19b": "X19b", "D02c": "X02c", "D13": "X13", "D16": "X16", "D15": "X15"}
U1 = UnitIn("U01", "市税务局")
TODAY = date(2024, 12, 31)


def _renamed_text() -> str:
    """The shipped file as another hall would write it: the same rules under other codes."""
    text = default_rulebook_path().read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        text = re.sub(rf'"{old}"', f'"{new}"', text)
    return text.replace('key = "anshan-2023"', 'key = "other-hall-2024"')


OTHER = parse_rulebook_toml(_renamed_text())


def test_the_shipped_rulebook_marks_every_role():
    raw_roles = {name: getattr(SHIPPED.settings, name) for name in ROLE_SETTINGS}
    assert raw_roles == {
        "rectification_rule": "D19a",
        "overdue_rule": "D19b",
        "escalation_rule": "D02c",
        "turnover_rule": "D13",
        "clock_in_rule": "D16",
        "inspection_rule": "D15",
    }
    assert SHIPPED.role_rule("overdue_rule").derived
    assert "deadline" in SHIPPED.role_rule("rectification_rule").requires
    assert "linked" in SHIPPED.role_rule("inspection_rule").requires


def test_another_halls_codes_load():
    assert "D19a" not in OTHER.codes and "X19a" in OTHER.codes
    assert OTHER.role_code("rectification_rule") == "X19a"
    assert OTHER.role_code("overdue_rule") == "X19b"
    assert OTHER.role_code("escalation_rule") == "X02c"
    assert OTHER.role_code("turnover_rule") == "X13" and OTHER.role_code("clock_in_rule") == "X16"
    assert rulebook_from_dict(rulebook_to_dict(OTHER)) == OTHER


def _month(rulebook, codes: dict[str, str], year: int, month: int):
    c = codes.get
    incidents = [
        # A rectification item whose deadline passed without a rectification: the overdue item lands in April.
        IncidentIn(1, "U01", c("D19a", "D19a"), date(2024, 3, 10), count=2, deadline=date(2024, 3, 31)),
        # Three absences in one month: the escalation flag.
        IncidentIn(2, "U01", c("D02c", "D02c"), date(2024, 4, 2)),
        IncidentIn(3, "U01", c("D02c", "D02c"), date(2024, 4, 3), count=2),
    ]
    return score_month(rulebook, [U1], incidents, year, month, TODAY).units[0]


@pytest.mark.parametrize("month", [3, 4])
def test_renamed_codes_give_the_same_d19b_and_escalation(month):
    anshan = _month(SHIPPED, {}, 2024, month)
    other = _month(OTHER, RENAMED, 2024, month)
    assert (other.score, other.deductions, other.grade) == (anshan.score, anshan.deductions, anshan.grade)
    assert [f.code for f in other.flags] == [f.code for f in anshan.flags]
    assert [(RENAMED.get(i.rule_code, i.rule_code), i.points, i.derived) for i in anshan.items] == [
        (i.rule_code, i.points, i.derived) for i in other.items
    ]
    if month == 4:
        overdue = [i for i in other.items if i.derived]
        assert [(i.rule_code, i.occurred_on, i.points) for i in overdue] == [("X19b", date(2024, 4, 1), -10)]
        assert {f.code for f in other.flags} == {"leadership_report", "notice_feedback"}
        notice = next(f for f in other.flags if f.code == "notice_feedback")
        assert notice.reasons == ("incident:2", "incident:3")


def test_renamed_codes_are_what_detection_proposes():
    roster = [
        RosterEntry("A", "U01", "W", "1", date(2024, 1, 1), date(2024, 3, 4)),
        RosterEntry("B", "U01", "W", "1", date(2024, 3, 4), date(2024, 3, 5)),
        RosterEntry("C", "U01", "W", "1", date(2024, 3, 5), date(2024, 3, 6)),
        RosterEntry("D", "U01", "W", "1", date(2024, 3, 6)),
    ]
    found = detect_d13(roster, 2024, 3, OTHER.settings)
    assert [(p.rule_code, p.key) for p in found] == [("X13", "X13:U01:2024-W10")]
    assert [p.key for p in detect_d13(roster, 2024, 3, SHIPPED.settings)] == ["D13:U01:2024-W10"]
    back_office = [RosterEntry("S1", "U01", "C", None, date(2024, 3, 4))]
    punches = [Punch("S1", datetime(2024, 3, 4, 8, 27))]
    found = detect_d16(back_office, punches, {}, 2024, 3, OTHER.settings, through=date(2024, 3, 4))
    assert [(p.rule_code, p.key) for p in found] == [("X16", "X16:S1:2024-03-04:pm")]


def test_a_rulebook_without_an_escalation_rule_never_escalates():
    data = rulebook_to_dict(SHIPPED)
    data["settings"]["escalation_rule"] = ""
    rulebook = rulebook_from_dict(data)
    incidents = [IncidentIn(i, "U01", "D02c", date(2024, 3, i)) for i in range(1, 5)]
    unit = score_month(rulebook, [U1], incidents, 2024, 3, TODAY).units[0]
    assert unit.deductions == 20 and unit.flags == ()


# ---------------------------------------------------------------- validation, in Chinese


def _with(**settings):
    data = rulebook_to_dict(SHIPPED)
    data["settings"].update(settings)
    return data


BROKEN_ROLES = [
    (_with(escalation_rule="D99"), "escalation_rule", "指向的规则 D99 不在规则手册中"),
    (_with(escalation_rule="B01"), "escalation_rule", "规则 B01 必须是扣分项"),
    (_with(overdue_rule="D19a", rectification_rule="D19a"), "overdue_rule", "已是 rectification_rule"),
    (
        _with(turnover_rule="D19b", overdue_rule="", rectification_rule=""),
        "turnover_rule",
        "由评分推导,不能担任此角色",
    ),
    (_with(inspection_rule="D14"), "inspection_rule", "requires 必须含 linked"),
    (_with(rectification_rule="D01"), "rectification_rule", "requires 必须含 deadline"),
    (_with(escalation_rule=5), "escalation_rule", "必须是规则代码"),
]


@pytest.mark.parametrize(("data", "field", "message"), BROKEN_ROLES)
def test_roles_are_validated_on_load(data, field, message):
    with pytest.raises(RulebookError) as info:
        rulebook_from_dict(data)
    assert info.value.field == field
    assert message in str(info.value) and field in str(info.value)


def test_a_deadline_or_derived_rule_must_be_marked():
    data = _with(overdue_rule="")
    with pytest.raises(
        RulebookError, match='规则 D19b 的字段 derived 为 true,须在设置项中写 overdue_rule = "D19b"'
    ):
        rulebook_from_dict(data)
    data = _with(rectification_rule="")
    with pytest.raises(RulebookError, match='须在设置项中写 rectification_rule = "D19a"'):
        rulebook_from_dict(data)


def test_a_rulebook_file_must_spell_out_every_role():
    text = default_rulebook_path().read_text(encoding="utf-8")
    text = re.sub(r'(?m)^overdue_rule = "D19b".*\n', "", text)
    with pytest.raises(RulebookError) as info:
        parse_rulebook_toml(text)
    assert info.value.field == "overdue_rule"
    assert "设置项 settings 缺少字段 overdue_rule" in str(info.value) and '没有这类规则时写 ""' in str(
        info.value
    )


# ---------------------------------------------------------------- versions stored before roles existed


def _legacy(rulebook) -> dict:
    data = copy.deepcopy(rulebook_to_dict(rulebook))
    for name in ROLE_SETTINGS:
        del data["settings"][name]
    return data


def test_stored_data_from_before_roles_reads_with_the_2023_codes():
    legacy = _legacy(SHIPPED)
    with pytest.raises(RulebookError):
        rulebook_from_dict(legacy)  # a file or a new version must name its roles
    assert rulebook_from_stored(legacy) == SHIPPED
    # Stored data that names its roles keeps them (another hall's codes are not overwritten).
    assert rulebook_from_stored(rulebook_to_dict(OTHER)) == OTHER


def test_defaults_fill_only_the_rules_a_legacy_version_has():
    legacy = _legacy(SHIPPED)
    legacy["rules"] = [r for r in legacy["rules"] if r["code"] not in ("D13", "D16")]
    rulebook = rulebook_from_stored(legacy)
    assert rulebook.role_code("turnover_rule") is None and rulebook.role_code("clock_in_rule") is None
    assert rulebook.role_code("escalation_rule") == "D02c"


# ---------------------------------------------------------------- one signed_points


def test_signed_points_is_the_one_sign_rule():
    assert signed_points(SHIPPED.rule("D02c")) == -5
    assert signed_points(SHIPPED.rule("D08"), 3) == -9
    assert signed_points(SHIPPED.rule("B02c")) == 10 and SHIPPED.rule("B02c").kind == RuleKind.BONUS
    assert signed_points(SHIPPED.rule("B01"), 2) == 6
    assert signed_points(SHIPPED.rule("D12")) == 0
    assert signed_points(SHIPPED.rule("D06"), exempt=True) == 0  # the device failed: worth 0
    assert signed_points(SHIPPED.rule("D01"), exempt=True) == -2  # D01 has no exemption
    for code in ("D01", "D15", "B03"):
        items = (
            score_month(
                SHIPPED, [U1], [IncidentIn(1, "U01", code, date(2024, 3, 5), count=2)], 2024, 3, TODAY
            )
            .units[0]
            .items
        )
        assert items[0].points == signed_points(SHIPPED.rule(code), 2)


def test_settings_defaults_are_the_shipped_roles():
    assert {n: getattr(Settings(), n) for n in ROLE_SETTINGS} == {
        n: getattr(SHIPPED.settings, n) for n in ROLE_SETTINGS
    }
