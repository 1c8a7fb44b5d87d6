"""Writes the sample import files of tests/data (run once; the files are committed).

    .venv/bin/python tests/data/make_samples.py

They fit the tests' pinned today (2024-03-20): units U01/U02, staff S001 (W, window 1 of U01),
S002 (C, U01), S003 (W, window 1 of U02), incidents in February and March 2024.
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent

UNITS = (
    "code,name,windows,display_order,active\n"
    "U01,市税务局,1;2,1,true\n"
    "U02,市社会保险事业服务中心,3、4,2,true\n"
)
STAFF = (
    "staff_id,name,unit_code,category,window,start_date,end_date\n"
    "S001,张三,U01,W,1,2024-01-02,\n"
    "S002,李四,U01,C,,2024-01-02,\n"
    "S003,王五,U02,W,3,2024-01-02,\n"
)
INCIDENTS = (
    "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt\n"
    "2024-03-05 09:10,U01,D01,S001,,巡查发现迟到,,,\n"
    "2024-03-06 10:00,U01,D16,S002,1,后场打卡缺失,,,false\n"
    "2024-03-07 14:30,U02,D19a,,1,未落实一次性告知,2024-03-15,,\n"
    "2024-02-20 15:00,U02,B01,,2,收到锦旗,,,\n"
    "2024-03-08 09:00,U01,D06,S001,1,评价器网络故障,,,true\n"
)
INCIDENTS_BAD = (
    "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt\n"
    "2024-03-05 09:10,U01,D01,S001,1,好的一行,,,\n"  # row 2: fine
    "2024-03-05 09:10,U99,D01,,1,,,,\n"  # row 3: unknown unit
    "2024-03-05 09:10,U01,X99,,1,,,,\n"  # row 4: unknown rule
    "2024-13-05 09:10,U01,D01,,1,,,,\n"  # row 5: bad date
    "2024-03-05 09:10,U01,D19a,,1,,,,\n"  # row 6: D19a without deadline
    "2024-03-05 09:10,U01,D16,S001,1,,,,\n"  # row 7: D16 is for C staff, S001 is W
    "2024-03-05 09:10,U01,D01,,0,,,,\n"  # row 8: count 0
    "2024-03-05 09:10,U01,D06,,1,,,,maybe\n"  # row 9: exempt not true/false
    "2024-02-05 09:10,U01,D01,,1,,,,\n"  # row 10: February is closed in the test
    "2024-03-05 09:10,,D01,,1,,,,\n"  # row 11: empty unit_code
    "2024-03-05 09:10,U01,D01,S001,1,好的一行,,,\n"  # row 12: duplicate of row 2
)


def main() -> None:
    (HERE / "units.csv").write_text(UNITS, encoding="utf-8")
    (HERE / "units_gb18030.csv").write_bytes(UNITS.replace("\n", "\r\n").encode("gb18030"))
    (HERE / "staff_bom.csv").write_bytes(STAFF.encode("utf-8-sig"))
    (HERE / "incidents.csv").write_text(INCIDENTS, encoding="utf-8")
    (HERE / "incidents_bad.csv").write_text(INCIDENTS_BAD, encoding="utf-8")
    (HERE / "clock.csv").write_text(
        "staff_id,punched_at\nS002,2024-03-04 08:27\nS002,2024-03-04 08:27:30\nS002,2024-03-04 16:58:10\n",
        encoding="utf-8",
    )
    (HERE / "calendar.csv").write_text(
        "date,kind\n2024-04-04,holiday\n2024-04-07,workday\n", encoding="utf-8"
    )

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "扣加分"
    sheet.append(
        [
            "occurred_at",
            "unit_code",
            "rule_code",
            "staff_id",
            "count",
            "note",
            "deadline",
            "rectified_on",
            "exempt",
        ]
    )
    sheet.append([datetime(2024, 3, 11, 9, 15), "U01", "D03", "S001", 1, "串岗聊天", None, None, False])
    sheet.append(
        [
            datetime(2024, 3, 12, 10, 0),
            "U02",
            "D19a",
            None,
            None,
            "未按要求进驻事项",
            date(2024, 3, 25),
            date(2024, 3, 18),
            None,
        ]
    )
    sheet.append([datetime(2024, 3, 13, 15, 30), "U02", "B03", None, 2.0, "信息被采纳", None, None, "false"])
    book.save(HERE / "incidents.xlsx")

    # A zip that is no workbook, named .xlsx; and binary bytes named .csv.
    with zipfile.ZipFile(HERE / "corrupt.xlsx", "w") as archive:
        archive.writestr("hello.txt", "这不是工作簿")
    (HERE / "binary.csv").write_bytes(bytes(range(256)) * 4)


if __name__ == "__main__":
    main()
