"""The packaged samples and the synthetic export are what they claim to be, end to end.

The samples are what a local run lands, so these tests pin the features each was written to
carry (encoding, line ending, quoting, a duplicate, a missing trailing field…) and a few gold
rows worked out by hand from them; the synthetic export must be deterministic and clean.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lakehouse_assets.sources.itunes.exports import SAMPLE_DIRECTORY, export_date, parse_export
from lakehouse_assets.sources.itunes.gold import Export, play_history_table
from lakehouse_assets.sources.itunes.silver import tracks_table
from lakehouse_assets.sources.itunes.synthetic import synthetic_export

TXT = SAMPLE_DIRECTORY / "2026-10-01 Library.txt"
CSV = SAMPLE_DIRECTORY / "2026-11-01 Library.csv"
LANDED = datetime(2026, 11, 2, tzinfo=UTC)


def test_the_txt_sample_carries_what_it_should() -> None:
    body = TXT.read_bytes()
    assert body.startswith(b"\xff\xfe") and b"\n\x00" not in body and b"\r\x00" in body
    lines = body[2:].decode("utf-16-le").split("\r")
    tabs = {line.count("\t") for line in lines if line}
    assert tabs == {22, 21}  # 23 columns; some rows leave out the trailing empty Location
    table = parse_export(body, f"landing/itunes/tracks/{TXT.name}")
    assert table.num_rows == 20
    silver, report = tracks_table(table, "DMY")
    assert report.unparseable_dates == {} and report.non_integers == {}
    by_name = {row["name"]: row for row in silver.to_pylist()}
    assert by_name["Jóga"]["myrating"] == 100 and by_name["Jóga"]["myratingdigit"] == 5
    assert by_name["Jóga"]["dateadded"] == datetime(2019, 3, 12, 21, 2)
    assert by_name["La Bamba"]["plays"] == 0 and by_name["La Bamba"]["lastplayed"] is None
    assert 'Feeling Good (Live at "Town Hall")' in by_name
    assert by_name["Merry Christmas Mr. Lawrence"]["artist"] == "坂本龍一"
    assert silver.column("name").to_pylist().count("Karma Police") == 2


def test_the_csv_sample_carries_what_it_should() -> None:
    body = CSV.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    assert b'"Harder, Better, Faster, Stronger"' in body and b'"12/03/2019, 21:04"' in body
    silver, report = tracks_table(parse_export(body, CSV.name), "DMY")
    assert silver.num_rows == 19
    assert report.unparseable_dates == {} and report.non_integers == {}
    assert "Harder, Better, Faster, Stronger" in silver.column("name").to_pylist()


def test_play_history_of_the_two_samples() -> None:
    exports = []
    for path in (CSV, TXT):
        key = f"landing/itunes/tracks/{path.name}"
        silver, _ = tracks_table(parse_export(path.read_bytes(), key), "DMY")
        exports.append(Export(export_date(key, LANDED), LANDED, silver, key))
    assert sorted(e.export_date for e in exports) == [date(2026, 10, 1), date(2026, 11, 1)]
    history = {
        (row["export_date"].month, row["name"]): (row["plays"], row["plays_delta"])
        for row in play_history_table(exports).to_pylist()
    }
    assert len(history) == 19 + 19  # the duplicate Karma Police line counts once
    assert history[10, "Karma Police"] == (27, None)
    assert history[11, "Karma Police"] == (27, 0)
    assert history[11, "Jóga"] == (45, 4)
    assert history[11, "La Bamba"] == (2, 2)
    assert history[11, "Voice Memo 2026-09-14"] == (0, 0)  # null artist and album matched
    assert history[11, "Oblivion"] == (11, None)
    assert (11, "Städte") not in history


def test_synthetic_export_is_deterministic_and_parses_cleanly() -> None:
    body = synthetic_export(500, seed=7)
    assert body == synthetic_export(500, seed=7) and body != synthetic_export(500, seed=8)
    assert body.startswith(b"\xff\xfe") and b"\n\x00" not in body
    table = parse_export(body, "landing/itunes/tracks/synthetic.txt")
    assert table.num_rows == 500 and "Location" in table.column_names
    assert "" in table.column("Location").to_pylist()  # some rows had no trailing field
    silver, report = tracks_table(table, "DMY")
    assert report.unparseable_dates == {} and report.non_integers == {}
    assert silver.column("dateadded").null_count == 0
    assert 0 < silver.column("lastplayed").null_count < 500


@pytest.mark.parametrize("date_order", ["DMY", "MDY"])
def test_synthetic_export_in_each_date_order(date_order: str) -> None:
    table = parse_export(synthetic_export(200, seed=1, date_order=date_order), "s.txt")
    _, report = tracks_table(table, date_order)
    assert report.unparseable_dates == {}
