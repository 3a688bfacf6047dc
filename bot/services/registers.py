"""Registers uploaded by staff (CSV or XLSX): read the table, validate every row, report.

Two kinds, told apart by the header:

- ``enterprises`` (企业核心表): columns of :class:`bot.domain.enterprise.RegisterRow` —
  ``taxpayer_id, enterprise_name, status, role, doc_type, doc_number, person_name, phone``;
- ``identity_registry`` (the sandbox identity authority): ``doc_type, number, name, birth_date`` and
  an optional ``photo`` (base64 of the authority's JPEG/PNG photo of the person: the face the selfie
  must match; without one, the identity is confirmed by number and name only).

Headers may be in Chinese as well (纳税人识别号, 企业名称, …), and so may the values of ``status``,
``role`` and ``doc_type`` (正常, 法定代表人, 居民身份证, …): staff export these tables from Excel.
Nothing here writes: the staff console stages the accepted rows and loads them on confirmation.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from bot.domain.enterprise import RegisterRow, Role, row_problems
from bot.domain.phone import normalize_mainland_mobile
from bot.verification.ids import DocumentType, normalize_number, parse_resident_id, validate_document_number

__all__ = [
    "ENTERPRISES",
    "IDENTITY_REGISTRY",
    "Bundle",
    "RegisterError",
    "RegisterReport",
    "RejectedRow",
    "decode_photo",
    "read_bundle",
    "read_table",
    "validate_register",
]

ENTERPRISES = "enterprises"
IDENTITY_REGISTRY = "identity_registry"

DUPLICATE = "register_duplicate_row"
CONFLICT = "register_conflicting_enterprise"
TWO_LEGAL_REPS = "register_two_legal_reps"
ID_NAME = "register_person_name"
BIRTH_DATE = "register_birth_date"
ID_NUMBER = "register_doc_number"
ID_DOC_TYPE = "register_doc_type"
ID_PHOTO = "register_photo"
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_FILE_BYTES = 5 * 1024 * 1024  # a table, alone or inside a ZIP

_HEADER_ALIASES = {
    "纳税人识别号": "taxpayer_id",
    "统一社会信用代码": "taxpayer_id",
    "企业名称": "enterprise_name",
    "纳税人名称": "enterprise_name",
    "状态": "status",
    "企业状态": "status",
    "身份": "role",
    "身份类型": "role",
    "角色": "role",
    "证件类型": "doc_type",
    "证件号码": "doc_number",
    "姓名": "person_name",
    "手机号码": "phone",
    "手机号": "phone",
    "出生日期": "birth_date",
    "照片": "photo",
}
_VALUE_ALIASES = {
    "status": {"正常": "active", "非正常": "suspended", "注销": "deregistered"},
    "role": {
        "法定代表人": "legal_rep",
        "财务负责人": "finance_officer",
        "办税人": "tax_handler",
        "购票人": "invoice_buyer",
    },
    "doc_type": {
        "居民身份证": "resident_id",
        "身份证": "resident_id",
        "港澳居民来往内地通行证": "hk_macau_permit",
        "台湾居民来往大陆通行证": "taiwan_permit",
        "港澳台居民居住证": "hmt_residence_permit",
    },
}
_ENTERPRISE_COLUMNS = {"taxpayer_id", "enterprise_name"}
_IDENTITY_COLUMNS = {"doc_type", "number", "name"}


class RegisterError(ValueError):
    """The file as a whole cannot be read (``code`` is a reason code)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class RejectedRow:
    line: int  # the row's line in the file (the header is line 1)
    reasons: tuple[str, ...]


@dataclass
class RegisterReport:
    kind: str
    accepted: list[dict[str, Any]] = field(default_factory=list)  # JSON-ready rows for staging
    rejected: list[RejectedRow] = field(default_factory=list)


def read_table(data: bytes, file_name: str) -> list[list[str]]:
    """Rows of cells as text. CSV in UTF-8 (with or without BOM) or GB18030, which is what a Chinese
    Excel writes; XLSX by openpyxl (first sheet)."""
    if file_name.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RegisterError("register_unreadable")
    try:
        return [list(row) for row in csv.reader(io.StringIO(text))]
    except csv.Error:
        raise RegisterError("register_unreadable") from None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed into Excel arrives as 13800138000.0
    if isinstance(value, date):
        return value.isoformat()[:10]
    return str(value)


def _read_xlsx(data: bytes) -> list[list[str]]:
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise RegisterError("register_unreadable") from None
    try:
        sheet = workbook.worksheets[0]
        return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _header(row: Sequence[str]) -> list[str]:
    names = []
    for cell in row:
        name = cell.strip().lstrip("\ufeff")
        names.append(_HEADER_ALIASES.get(name, name.lower()))
    return names


def _value(column: str, raw: str) -> str:
    text = raw.strip()
    return _VALUE_ALIASES.get(column, {}).get(text, text)


# --- a ZIP: the identity table and the authority's photos beside it --------------------------------

ZIP_MAX_BYTES = 20 * 1024 * 1024  # what a bot may download
ZIP_MAX_MEMBERS = 10_001  # one table and a photo per row of the largest register accepted
ZIP_MAX_TOTAL = 50 * 1024 * 1024  # uncompressed, all members (photos hardly compress)
ZIP_MAX_RATIO = 100  # uncompressed / compressed per member: beyond it, a bomb rather than a photo
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
TABLE_SUFFIXES = (".csv", ".xlsx")


@dataclass(frozen=True)
class Bundle:
    """What a registry ZIP holds: the table (its rows and file name) and the photos by file name
    (lower case, without folders: ``photos/110101….jpg`` is ``110101….jpg``)."""

    table: list[list[str]]
    table_name: str
    photos: dict[str, bytes]


def _read_member(archive: Any, info: Any, limit: int) -> bytes:
    """A member's bytes, read up to ``limit`` whatever its header claims (a forged size in the
    header must not let a bomb through)."""
    with archive.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RegisterError("register_zip_too_large")
    return bytes(data)


def read_bundle(data: bytes) -> Bundle:
    """A ZIP of one table (CSV or XLSX) and photos (JPEG or PNG, each at most ``MAX_PHOTO_BYTES``),
    read in memory (nothing is extracted to disk, so member paths cannot escape anywhere). Refused
    as a whole: more than ``ZIP_MAX_MEMBERS`` members, more than ``ZIP_MAX_TOTAL`` uncompressed, a
    member compressed more than ``ZIP_MAX_RATIO`` times, encrypted members, nested archives, no table
    or two, two photos of one name."""
    import zipfile

    if len(data) > ZIP_MAX_BYTES:
        raise RegisterError("register_zip_too_large")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise RegisterError("register_unreadable") from None
    with archive:
        if len(infos) > ZIP_MAX_MEMBERS:
            raise RegisterError("register_zip_too_many_files")
        table: tuple[str, bytes] | None = None
        photos: dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            lower = name.lower()
            if not name or lower.startswith(("._", ".")) or "__macosx/" in info.filename.lower():
                continue  # a desktop's metadata files
            if info.flag_bits & 0x1:
                raise RegisterError("register_zip_encrypted")
            if info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1) and info.file_size > 64 * 1024:
                raise RegisterError("register_zip_too_large")
            is_table = lower.endswith(TABLE_SUFFIXES)
            if not is_table and not lower.endswith(PHOTO_SUFFIXES):
                raise RegisterError("register_zip_unexpected_file")
            limit = MAX_FILE_BYTES if is_table else MAX_PHOTO_BYTES
            if info.file_size > limit:
                raise RegisterError("register_zip_too_large")
            try:
                content = _read_member(archive, info, min(limit, ZIP_MAX_TOTAL - total))
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
                raise RegisterError("register_unreadable") from None
            total += len(content)
            if len(content) > ZIP_MAX_RATIO * max(info.compress_size, 1) and len(content) > 64 * 1024:
                raise RegisterError("register_zip_too_large")
            if is_table:
                if table is not None:
                    raise RegisterError("register_zip_two_tables")
                table = (name, content)
            elif lower in photos:
                raise RegisterError("register_zip_duplicate_photo")
            else:
                photos[lower] = content
    if table is None:
        raise RegisterError("register_zip_no_table")
    return Bundle(read_table(table[1], table[0]), table[0], photos)


def validate_register(
    table: Sequence[Sequence[str]],
    *,
    today: date,
    max_rows: int,
    photos: dict[str, bytes] | None = None,
) -> RegisterReport:
    """Every row checked; the accepted rows are ready for the repository's ``load``. ``photos`` (from
    a ZIP): an identity row's ``photo`` cell may name one of them, and a row without that cell takes
    ``<number>.jpg`` (or ``.jpeg`` / ``.png``) when the ZIP has it."""
    rows = [r for r in table if any(c.strip() for c in r)]
    if not rows:
        raise RegisterError("register_empty")
    header = _header(rows[0])
    if len(rows) - 1 > max_rows:
        raise RegisterError("register_too_many_rows")
    body = [
        (line, dict(zip(header, (_value(h, c) for h, c in zip(header, r, strict=False)), strict=False)))
        for line, r in enumerate(rows[1:], start=2)
    ]
    if set(header) >= _ENTERPRISE_COLUMNS:
        if photos:
            raise RegisterError("register_zip_not_identities")
        return _enterprises(body, today)
    if set(header) >= _IDENTITY_COLUMNS or {"doc_type", "doc_number", "person_name"} <= set(header):
        return _identities(body, today, photos or {})
    raise RegisterError("register_unknown_columns")


def _enterprises(body: Iterable[tuple[int, dict[str, str]]], today: date) -> RegisterReport:
    report = RegisterReport(ENTERPRISES)
    seen_people: set[tuple[str, str, str, str]] = set()
    enterprises: dict[str, tuple[str, str]] = {}
    legal_reps: dict[str, tuple[str, str]] = {}
    for line, cells in body:
        row = RegisterRow(
            taxpayer_id=normalize_number(cells.get("taxpayer_id", "")),
            enterprise_name=cells.get("enterprise_name", "").strip(),
            status=cells.get("status") or "active",
            role=cells.get("role") or None,
            doc_type=cells.get("doc_type") or None,
            doc_number=normalize_number(cells.get("doc_number", "")) or None,
            person_name=cells.get("person_name", "").strip() or None,
            phone=cells.get("phone") or None,
        )
        problems = [str(p) for p in row_problems(row, today=today)]
        if not problems:
            known = enterprises.setdefault(row.taxpayer_id, (row.enterprise_name, row.status))
            if known != (row.enterprise_name, row.status):
                problems.append(CONFLICT)
            if row.role:
                person = (str(row.doc_type), str(row.doc_number))
                key = (row.taxpayer_id, row.role, *person)
                if key in seen_people:
                    problems.append(DUPLICATE)
                # An enterprise has one legal representative (法定代表人).
                if (
                    row.role == Role.LEGAL_REP.value
                    and legal_reps.setdefault(row.taxpayer_id, person) != person
                ):
                    problems.append(TWO_LEGAL_REPS)
                if not problems:
                    seen_people.add(key)
            elif (row.taxpayer_id, "", "", "") in seen_people:
                problems.append(DUPLICATE)
            else:
                seen_people.add((row.taxpayer_id, "", "", ""))
        if problems:
            report.rejected.append(RejectedRow(line, tuple(dict.fromkeys(problems))))
            continue
        if row.phone:
            row = RegisterRow(**{**asdict(row), "phone": normalize_mainland_mobile(row.phone)})
        report.accepted.append(asdict(row))
    return report


def decode_photo(text: str) -> bytes | None:
    """The photo of a registry row (base64 of a JPEG or PNG, at most ``MAX_PHOTO_BYTES``), or None."""
    if len(text) > MAX_PHOTO_BYTES * 4 // 3 + 4:
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith((b"\xff\xd8", b"\x89PNG")) else None


def _photo_of(cell: str, number: str, photos: dict[str, bytes]) -> tuple[str, bool]:
    """(base64 of the row's photo or "", whether the row named a photo that is not usable). The cell
    names a file of the ZIP, or holds the base64 itself; with no cell, ``<number>.<jpg|jpeg|png>``."""
    text = "".join(cell.split())
    named = text.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if named.endswith(PHOTO_SUFFIXES):
        content = photos.get(named)
        if content is None:
            return "", True
        encoded = base64.b64encode(content).decode("ascii")
        return (encoded, False) if decode_photo(encoded) is not None else ("", True)
    if text:
        return (text, False) if decode_photo(text) is not None else ("", True)
    for suffix in PHOTO_SUFFIXES:
        content = photos.get(number.lower() + suffix)
        if content is not None:
            encoded = base64.b64encode(content).decode("ascii")
            return (encoded, False) if decode_photo(encoded) is not None else ("", True)
    return "", False


def _identities(
    body: Iterable[tuple[int, dict[str, str]]], today: date, photos: dict[str, bytes]
) -> RegisterReport:
    report = RegisterReport(IDENTITY_REGISTRY)
    seen: set[tuple[str, str]] = set()
    for line, cells in body:
        doc_type = cells.get("doc_type", "")
        number = normalize_number(cells.get("number") or cells.get("doc_number") or "")
        name = (cells.get("name") or cells.get("person_name") or "").strip()
        birth_text = cells.get("birth_date", "").strip()
        problems: list[str] = []
        known_type = doc_type in {d.value for d in DocumentType}
        if not known_type:
            problems.append(ID_DOC_TYPE)
        elif validate_document_number(DocumentType(doc_type), number, today=today):
            problems.append(ID_NUMBER)
        if not name or len(name) > 60:
            problems.append(ID_NAME)
        birth: date | None = None
        if birth_text:
            try:
                birth = date.fromisoformat(birth_text)
            except ValueError:
                problems.append(BIRTH_DATE)
        if birth is not None and known_type and doc_type == DocumentType.RESIDENT_ID.value:
            info = parse_resident_id(number)
            if info is not None and info.birth_date != birth:
                problems.append(BIRTH_DATE)
        photo_text, bad_photo = _photo_of(cells.get("photo") or "", number, photos)
        if bad_photo:
            problems.append(ID_PHOTO)
        if (doc_type, number) in seen:
            problems.append(DUPLICATE)
        if problems:
            report.rejected.append(RejectedRow(line, tuple(problems)))
            continue
        seen.add((doc_type, number))
        report.accepted.append(
            {
                "doc_type": doc_type,
                "number": number,
                "name": name,
                "birth_date": birth_text or None,
                "photo": photo_text or None,
            }
        )
    return report
