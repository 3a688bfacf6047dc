"""Reading and checking uploaded registers (no database): every row judged, the file as a whole too."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook

from bot.services.registers import (
    ENTERPRISES,
    IDENTITY_REGISTRY,
    RegisterError,
    read_table,
    validate_register,
)
from tests.helpers.fakes import valid_number

TODAY = date(2026, 11, 27)
USCC = "91210102MA0QWE7R1T"
HEADER = [
    "taxpayer_id",
    "enterprise_name",
    "status",
    "role",
    "doc_type",
    "doc_number",
    "person_name",
    "phone",
]


def check(rows: list[list[str]], max_rows: int = 100):  # type: ignore[no-untyped-def]
    return validate_register([HEADER, *rows], today=TODAY, max_rows=max_rows)


def test_good_rows_are_normalised() -> None:
    report = check(
        [
            [
                USCC.lower(),
                " 星河 ",
                "active",
                "legal_rep",
                "resident_id",
                valid_number(),
                "王小明",
                "+86 138-0013-8000",
            ],
            [USCC, "星河", "active", "", "", "", "", ""],
        ]
    )
    assert report.kind == ENTERPRISES
    assert report.rejected == []
    first = report.accepted[0]
    assert (
        first["taxpayer_id"] == USCC
        and first["enterprise_name"] == "星河"
        and first["phone"] == "13800138000"
    )


def test_each_row_has_its_reasons_and_line() -> None:
    other = valid_number("11010119900307567")
    report = check(
        [
            [USCC, "星河", "active", "legal_rep", "resident_id", valid_number(), "王小明", ""],
            [USCC, "星河", "active", "legal_rep", "resident_id", valid_number(), "王小明", ""],
            [USCC, "星河", "active", "legal_rep", "resident_id", other, "李四", ""],
            [USCC, "别的名字", "active", "", "", "", "", ""],
            [USCC[:-1] + "X", "坏", "active", "", "", "", "", ""],
            [USCC, "星河", "active", "tax_handler", "resident_id", valid_number()[:-1] + "0", "王", "12"],
        ]
    )
    reasons = {r.line: r.reasons for r in report.rejected}
    assert reasons[3] == ("register_duplicate_row",)
    assert reasons[4] == ("register_two_legal_reps",)
    assert reasons[5] == ("register_conflicting_enterprise",)
    assert reasons[6] == ("register_taxpayer_id",)
    assert set(reasons[7]) == {"register_doc_number", "register_phone"}
    assert len(report.accepted) == 1


def test_identity_registry_rows() -> None:
    table = [
        ["doc_type", "number", "name", "birth_date"],
        ["resident_id", valid_number(), "王小明", "1990-03-07"],
        ["resident_id", valid_number(), "王小明", "1990-03-07"],
        ["resident_id", valid_number("11010119900307567"), "", "1990-13-01"],
        ["taiwan_permit", "12345678", "林志明", ""],
    ]
    report = validate_register(table, today=TODAY, max_rows=10)
    assert report.kind == IDENTITY_REGISTRY
    assert [r.line for r in report.rejected] == [3, 4]
    assert set(report.rejected[1].reasons) == {"register_person_name", "register_birth_date"}
    assert report.accepted[1] == {
        "doc_type": "taiwan_permit",
        "number": "12345678",
        "name": "林志明",
        "birth_date": None,
        "photo": None,
    }


@pytest.mark.parametrize(
    ("table", "code"),
    [
        ([], "register_empty"),
        ([["", ""]], "register_empty"),
        ([["a", "b"], ["1", "2"]], "register_unknown_columns"),
        ([HEADER] + [[USCC, "x", "active", "", "", "", "", ""]] * 3, "register_too_many_rows"),
    ],
)
def test_whole_file_problems(table: list[list[str]], code: str) -> None:
    with pytest.raises(RegisterError) as caught:
        validate_register(table, today=TODAY, max_rows=2)
    assert caught.value.code == code


def test_read_csv_encodings_and_xlsx() -> None:
    text = "纳税人识别号,企业名称\n" + USCC + ",星河\n"
    assert read_table(("\ufeff" + text).encode("utf-8"), "a.csv")[1] == [USCC, "星河"]
    assert read_table(text.encode("gb18030"), "a.csv")[0] == ["纳税人识别号", "企业名称"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "birth_date"])
    sheet.append([13800138000.0, date(1990, 3, 7)])
    out = io.BytesIO()
    book.save(out)
    assert read_table(out.getvalue(), "a.XLSX") == [["phone", "birth_date"], ["13800138000", "1990-03-07"]]
    with pytest.raises(RegisterError):
        read_table(b"not a zip", "a.xlsx")
