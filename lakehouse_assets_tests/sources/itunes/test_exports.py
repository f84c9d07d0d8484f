"""What ``parse_export`` accepts as an iTunes export, what it rejects and why, and export dates.

Every encoding, line ending and quoting rule gets a file built byte by byte here, and the
bronze values are compared with the literal text written into it: verbatim, never trimmed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from lakehouse_assets.errors import BadFileError
from lakehouse_assets.sources.itunes.exports import export_date, parse_export

HEADER = [
    "Name",
    "Artist",
    "Album",
    "Genre",
    "Track Number",
    "Year",
    "Date Modified",
    "Date Added",
    "Plays",
    "Last Played",
    "My Rating",
    "Location",
]
ROW_1 = ["Jóga", "Björk", "Homogenic", "Electronic", "3", "1997", "05/04/2021, 13:29"]
ROW_1 += ["05/04/2021, 13:27", "41", "28/09/2026, 08:15", "100", "C:\\Music\\03 Jóga.m4a"]
ROW_2 = ["Halo", "Beyoncé", "I Am... Sasha Fierce", "R&B", "3", "2008", "09/10/2019, 08:00"]
ROW_2 += ["09/10/2019, 07:59", "", "", "", ""]


def txt(rows: list[list[str]], newline: str = "\r", header: list[str] = HEADER) -> str:
    return newline.join("\t".join(fields) for fields in [header, *rows]) + newline


def records(table: pa.Table) -> list[dict[str, str]]:
    return table.to_pylist()


EXPECTED = [dict(zip(HEADER, ROW_1, strict=True)), dict(zip(HEADER, ROW_2, strict=True))]


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe" + txt([ROW_1, ROW_2]).encode("utf-16-le"),
        b"\xfe\xff" + txt([ROW_1, ROW_2]).encode("utf-16-be"),
        b"\xef\xbb\xbf" + txt([ROW_1, ROW_2]).encode("utf-8"),
        txt([ROW_1, ROW_2]).encode("utf-8"),
        txt([ROW_1, ROW_2], "\n").encode("utf-8"),
        txt([ROW_1, ROW_2], "\r\n").encode("utf-8"),
        b"\xff\xfe" + txt([ROW_1, ROW_2], "\r\n").encode("utf-16-le"),
    ],
    ids=["utf16le-cr", "utf16be-cr", "utf8bom-cr", "utf8-cr", "utf8-lf", "utf8-crlf", "utf16-crlf"],
)
def test_txt_in_every_encoding_and_line_ending(body: bytes) -> None:
    table = parse_export(body, "landing/itunes/tracks/2026-10-01 Library.txt")
    assert table.column_names == HEADER
    assert all(str(field.type) == "string" for field in table.schema)
    assert records(table) == EXPECTED


def test_txt_without_final_newline_and_with_blank_lines() -> None:
    text = "\n".join(["\t".join(HEADER), "", "\t".join(ROW_1), "", "\t".join(ROW_2)])
    assert records(parse_export(text.encode(), "a.txt")) == EXPECTED


def test_missing_trailing_field_is_padded_with_empty() -> None:
    text = "\r".join(["\t".join(HEADER), "\t".join(ROW_2[:-1])])  # no tab before the empty Location
    (row,) = records(parse_export(("\ufeff" + text).encode("utf-16-le"), "a.txt"))
    assert row == EXPECTED[1]


def test_txt_has_no_quoting_a_quote_is_data() -> None:
    quoted = ['"Feeling Good"', 'Nina "Live', 'Say "Hi", Bye', *ROW_1[3:]]
    (row,) = records(parse_export(txt([quoted]).encode("utf-16"), "a.txt"))
    assert (row["Name"], row["Artist"], row["Album"]) == (
        '"Feeling Good"',
        'Nina "Live',
        'Say "Hi", Bye',
    )


def test_values_are_verbatim_and_other_line_separators_are_data() -> None:
    odd = ["  padded  ", "Simon &amp; Garfunkel", "Cafe\u0301", "a\x0bb\u2028c\x85d", *ROW_1[4:]]
    (row,) = records(parse_export(txt([odd]).encode("utf-8"), "a.txt"))
    assert row["Name"] == "  padded  "
    assert row["Artist"] == "Simon &amp; Garfunkel"
    assert row["Album"] == "Cafe\u0301"  # NFD kept, not composed to "Café"
    assert row["Genre"] == "a\x0bb\u2028c\x85d"


def test_header_columns_in_any_order_and_extra_ones_kept() -> None:
    header = ["Location", *reversed(HEADER[:-1]), "Skips"]
    values = ["C:\\x.mp3", *(str(i) for i in range(len(HEADER) - 1)), "2"]
    table = parse_export(txt([values], header=header).encode(), "x.txt")
    assert table.column_names == header
    assert records(table) == [dict(zip(header, values, strict=True))]


def test_header_only_is_an_export_with_no_rows() -> None:
    table = parse_export(b"\xff\xfe" + "\t".join(HEADER).encode("utf-16-le"), "a.txt")
    assert table.column_names == HEADER and table.num_rows == 0


def test_csv_with_bom_quoted_commas_quotes_and_newlines() -> None:
    body = (
        "\ufeff" + ",".join(HEADER) + "\r\n"
        '"Harder, Better, Faster, Stronger",Daft Punk,Discovery,Electronic,4,2001,'
        '"11/11/2011, 11:11","11/11/2011, 11:10",58,"30/09/2026, 07:40",80,"C:\\a,b.m4a"\r\n'
        '"He said ""hi""","Line one\nLine two",Album,,,,,,,,,\r\n'
    ).encode("utf-8")
    rows = records(parse_export(body, "landing/itunes/tracks/2026-11-01 Library.csv"))
    assert rows[0]["Name"] == "Harder, Better, Faster, Stronger"
    assert rows[0]["Date Modified"] == "11/11/2011, 11:11"
    assert rows[0]["Location"] == "C:\\a,b.m4a"
    assert rows[1]["Name"] == 'He said "hi"'
    assert rows[1]["Artist"] == "Line one\nLine two"
    assert rows[1]["Genre"] == "" and rows[1]["Location"] == ""


def test_csv_without_bom_and_with_lf_and_cr_line_ends() -> None:
    for newline in ("\n", "\r"):
        quoted = ",".join(f'"{value}"' for value in ROW_2)
        body = (newline.join([",".join(HEADER), quoted]) + newline).encode()
        assert records(parse_export(body, "a.CSV")) == [EXPECTED[1]]


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (
            b"\xff\xfe" + "Name\tArtist".encode("utf-16-le") + b"\x00",
            "a.txt",
            "not valid UTF-16 LE",
        ),
        (txt([ROW_1]).encode("utf-8")[:-3] + b"\xe9\r", "a.txt", "not valid UTF-8"),
        (txt([ROW_1]).encode("latin-1"), "a.txt", "not valid UTF-8"),
        (txt([]).encode("utf-16-le"), "a.txt", "NUL characters"),
        (txt([ROW_1]).encode("utf-16-le"), "a.txt", "UTF-16 is read only with a byte-order mark"),
        (b"\xff\xfe" + txt([ROW_1]).encode("utf-16-le"), "a.csv", "must be UTF-8"),
        (",".join(HEADER).encode("cp1252") + b"\r\n\x93x\x94", "a.csv", "not valid UTF-8"),
    ],
    ids=[
        "odd-utf16",
        "bad-utf8-byte",
        "latin1",
        "ascii-utf16-without-bom",
        "utf16-without-bom",
        "utf16-csv",
        "cp1252-csv",
    ],
)
def test_text_not_valid_in_its_encoding_is_a_bad_file(body: bytes, key: str, reason: str) -> None:
    with pytest.raises(BadFileError, match=reason):
        parse_export(body, key)


def test_missing_required_columns_are_named() -> None:
    header = [c for c in HEADER if c not in ("My Rating", "Plays")]
    with pytest.raises(BadFileError) as raised:
        parse_export(txt([], header=header).encode(), "a.txt")
    assert "missing required columns Plays, My Rating" in raised.value.reason


def test_a_row_longer_than_the_header_names_its_line() -> None:
    text = txt([ROW_1, [*ROW_2, "extra"]], "\r\n")
    with pytest.raises(
        BadFileError, match="line 3 has 13 tab-separated fields but the header has 12"
    ):
        parse_export(text.encode(), "a.txt")


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (b"", "a.txt", "empty file"),
        (b"\xff\xfe", "a.txt", "empty file"),
        (b"\r\n\r\n", "a.txt", "empty file"),
        (txt([ROW_1]).encode(), "Library.xml", "not an iTunes export"),
        (txt([ROW_1]).encode(), "Library", "not an iTunes export"),
        (txt([], header=[*HEADER, "Plays"]).encode(), "a.txt", "'Plays' appears more than once"),
        (txt([], header=["", *HEADER]).encode(), "a.txt", "empty column name"),
        (txt([], header=[*HEADER, "_ingested_at"]).encode(), "a.txt", "reserved"),
        (
            (",".join(HEADER) + '\r\n"unterminated,x\r\n').encode(),
            "a.csv",
            "not valid CSV",
        ),
    ],
)
def test_other_bad_files(body: bytes, key: str, reason: str) -> None:
    with pytest.raises(BadFileError, match=reason):
        parse_export(body, key)


LANDED = datetime(2026, 11, 3, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30 UTC on 4th


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("landing/itunes/tracks/2026-10-01 Library.txt", date(2026, 10, 1)),
        ("landing/itunes/tracks/2026-10-01/Library.txt", date(2026, 10, 1)),
        ("landing/itunes/tracks/2026-09-30/Library 2026-10-01.txt", date(2026, 10, 1)),
        ("landing/itunes/tracks/2026-09-30/Library 2024-13-45.txt", date(2026, 9, 30)),
        ("landing/itunes/tracks/2024-02-30 Library.txt", date(2026, 11, 4)),
        ("landing/itunes/tracks/Library.txt", date(2026, 11, 4)),
        ("landing/itunes/tracks/12026-10-01 Library.txt", date(2026, 11, 4)),
    ],
    ids=["file-name", "folder", "file-over-folder", "not-a-date", "impossible", "none", "digits"],
)
def test_export_date_from_the_key_else_the_utc_landing_day(key: str, expected: date) -> None:
    assert export_date(key, LANDED) == expected


def test_export_date_of_a_naive_landing_time_is_its_own_day() -> None:
    assert export_date("Library.txt", datetime(2026, 1, 2, 23, 59)) == date(2026, 1, 2)
    assert export_date("Library.txt", datetime(2026, 1, 2, 23, 59, tzinfo=UTC)) == date(2026, 1, 2)
