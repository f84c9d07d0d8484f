"""The iTunes contract end to end, through ``lakehouse run`` on a tmp lake with its own
parameters (no samples): exports dated by folder, file name or landing day, landing out of
date order; UTF-16 BE with CR-only lines, a reordered header with extra iTunes columns and a
missing trailing field; silver is the newest export by export date with the contract's dtypes
read back by pandas; ``Location`` never published (nor previewed) beyond bronze; gold
``play_history`` over every export; a bad file quarantined with an alert while the run succeeds
and the last good silver stays readable; a re-landed identical file processed once.
"""

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.cli import main
from lakehouse_assets.errors import BadFileError
from lakehouse_assets.lake.object_store import LocalObjectStore
from lakehouse_assets.sources.itunes.exports import REQUIRED_COLUMNS, parse_export

RAW = "data-lakehouse-raw"
TRACKS = Path("data-lakehouse-silver") / "itunes" / "tracks"
HISTORY = Path("data-lakehouse-gold") / "itunes" / "play_history"
LANDING = "landing/itunes/tracks/"
SENSOR = "landing__itunes__tracks_sensor"
HEADER = [
    "Name", "Artist", "Composer", "Album", "Grouping", "Genre", "Size", "Time", "Disc Number",
    "Track Number", "Year", "Date Modified", "Date Added", "Bit Rate", "Sample Rate", "Kind",
    "Comments", "Plays", "Last Played", "Skips", "Last Skipped", "My Rating", "Location",
]  # fmt: skip
SILVER_DTYPES = {
    "name": "str", "artist": "str", "album": "str", "genre": "str",
    "tracknumber": "int64", "year": "int64", "datemodified": "datetime64[us]",
    "dateadded": "datetime64[us]", "plays": "int64", "lastplayed": "datetime64[us]",
    "myrating": "int64", "datemodifieddate": "datetime64[us]", "dateaddeddate": "datetime64[us]",
    "lastplayeddate": "datetime64[us]", "myratingdigit": "int64",
}  # fmt: skip


def row(**values: str) -> dict[str, str]:
    base = dict.fromkeys(HEADER, "")
    base.update({"Kind": "MPEG audio file", "Size": "123", "Time": "200", "Bit Rate": "320"})
    base.update({"Location": "C:\\Users\\jane\\Music\\x.mp3"})
    base.update({k.replace("_", " "): v for k, v in values.items()})
    return base


def txt(rows: list[dict[str, str]], header: list[str], *, encoding: str, newline: str) -> bytes:
    lines = ["\t".join(header)]
    for values in rows:
        line = "\t".join(values.get(name, "") for name in header)
        lines.append(line[:-1] if not values.get(header[-1]) else line)  # no trailing field
    text = newline.join(lines) + newline
    bom = {"utf-16-be": b"\xfe\xff", "utf-16-le": b"\xff\xfe", "utf-8": b""}[encoding]
    return bom + text.encode(encoding)


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local lake with its own parameters file (so no packaged sample lands)."""
    parameters = tmp_path / "parameters.yaml"
    shutil.copy(settings.packaged_parameters_file(), parameters)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(parameters))
    return tmp_path / "lake"


def land(lake: Path, relative: str, body: bytes, landed: str) -> None:
    source = lake.parent / "upload.tmp"
    source.write_bytes(body)
    LocalObjectStore(lake).put_file(RAW, LANDING + relative, source)
    stamp = datetime.fromisoformat(landed).timestamp()
    os.utime(lake / RAW / (LANDING + relative), (stamp, stamp))


def silver(lake: Path) -> pd.DataFrame:
    return pd.read_parquet(lake / TRACKS)


def run() -> None:
    assert main(["run", "--source", "itunes"]) == 0


JUNE = [
    row(Name='Say "Hello"', Artist="A", Album="X", Genre="nan", Track_Number="1", Year="1999",
        Date_Modified="05/04/2021, 13:29:07", Date_Added="31/02/2020 10:00", Plays="",
        Last_Played="01/01/68 00:00", My_Rating="20"),
    row(Name="None", Artist="NULL", Album="", Genre="", Track_Number="", Year="",
        Date_Added="1/1/69 9:05", Plays="7", My_Rating="50", Location=""),
    row(Name="Song", Artist="A", Album="X", Track_Number="2", Plays="3", My_Rating="100"),
]  # fmt: skip
MAY = [
    row(Name='Say "Hello"', Artist="A", Album="X", Track_Number="1", Plays="4"),
    row(Name="None", Artist="NULL", Plays="5"),
]
APRIL = [row(Name='Say "Hello"', Artist="A", Album="X", Track_Number="1", Plays="1")]


def test_exports_through_lakehouse_run(lake: Path) -> None:
    order = HEADER[::-1]  # another order, Location first
    june = txt(JUNE, [*order[1:], "Location"], encoding="utf-16-be", newline="\r")
    land(lake, "2024-06-01/Library.txt", june, "2024-06-02T00:00:00+00:00")
    run()
    frame = silver(lake)
    assert list(frame.columns) == list(SILVER_DTYPES)  # exactly the contract's columns
    assert {c: str(frame[c].dtype) for c in SILVER_DTYPES} == SILVER_DTYPES
    assert "Location" not in frame.columns and "location" not in frame.columns
    assert frame["name"].tolist() == ['Say "Hello"', "None", "Song"]
    assert frame["artist"].tolist() == ["A", "NULL", "A"]
    assert frame["genre"].tolist()[0] == "nan" and frame["genre"].isna().tolist()[1:] == [
        True,
        True,
    ]
    assert frame["album"].isna().tolist() == [False, True, False]
    assert frame["plays"].tolist() == [0, 7, 3]
    assert frame["tracknumber"].tolist() == [1, 0, 2] and frame["year"].tolist() == [1999, 0, 0]
    assert frame["myrating"].tolist() == [20, 50, 100]
    assert frame["myratingdigit"].tolist() == [1, 0, 5]
    assert frame["datemodified"][0] == pd.Timestamp("2021-04-05 13:29:07")
    assert frame["datemodifieddate"][0] == pd.Timestamp("2021-04-05")
    assert pd.isna(frame["dateadded"][0])
    assert frame["dateadded"][1] == pd.Timestamp("1969-01-01 09:05")
    assert frame["lastplayed"][0] == pd.Timestamp("2068-01-01")

    # An older export lands later (date in the file name), one with no date in its key (its
    # landing day, 2024-04-10 UTC) later still: silver stays June's.
    may = txt(MAY, HEADER, encoding="utf-8", newline="\r\n")
    land(lake, "Library 2024-05-01.txt", may, "2024-07-01T00:00:00+00:00")
    april = txt(APRIL, HEADER[:-1], encoding="utf-16-le", newline="\n")
    land(lake, "nodate/Library.txt", april, "2024-04-10T23:30:00+00:00")
    run()
    assert silver(lake)["name"].tolist() == ['Say "Hello"', "None", "Song"]
    history = pd.read_parquet(lake / HISTORY)
    assert list(history.columns) == [
        "export_date", "name", "artist", "album", "tracknumber", "plays", "plays_delta",
    ]  # fmt: skip
    assert str(history["plays_delta"].dtype) == "Int64"
    assert str(history["plays"].dtype) == "int64"
    assert str(history["export_date"].dtype).startswith("datetime64")
    assert "Location" not in history.columns
    got = {
        (str(r.export_date.date()), r.name, r.artist): (r.plays, r.plays_delta)
        for r in history.astype(object).where(history.notna(), None).itertuples()
    }
    assert got == {
        ("2024-04-10", 'Say "Hello"', "A"): (1, None),
        ("2024-05-01", 'Say "Hello"', "A"): (4, 3),
        ("2024-05-01", "None", "NULL"): (5, None),
        ("2024-06-01", 'Say "Hello"', "A"): (0, -4),
        ("2024-06-01", "None", "NULL"): (7, 2),
        ("2024-06-01", "Song", "A"): (3, None),
    }

    with dg.DagsterInstance.get() as instance:
        for key in (["silver", "itunes", "tracks"], ["gold", "itunes", "play_history"]):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None and event.asset_materialization is not None
            text = json.dumps(
                {k: str(v.value) for k, v in event.asset_materialization.metadata.items()}
            )
            assert "Location" not in text and "jane" not in text, key
        silver_meta = instance.get_latest_materialization_event(
            dg.AssetKey(["silver", "itunes", "tracks"])
        ).asset_materialization.metadata  # type: ignore[union-attr]
        assert silver_meta["unparseable_dates"].value == 1


def outbox(lake: Path) -> list[dict[str, object]]:
    path = lake / "_alerts" / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sensor_requests(instance: dg.DagsterInstance) -> list[str]:
    from lakehouse_assets.definitions import build_definitions

    defs = build_definitions(settings.Deployment.LOCAL)
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(
        instance=instance, resources=dict(defs.resources or {}), sensor_name=SENSOR
    ) as context:
        result = sensor(context)
    if not isinstance(result, dg.SensorResult):
        return []
    return [r.run_key or "" for r in result.run_requests or []]


def test_same_date_bad_file_and_relanding(lake: Path) -> None:
    first = txt([row(Name="First", Plays="1")], HEADER, encoding="utf-8", newline="\n")
    land(lake, "a/2024-06-01 Library.txt", first, "2024-06-01T10:00:00+00:00")
    run()
    second = b"\xef\xbb\xbf" + (
        b"Name,Artist,Album,Genre,Track Number,Year,Date Modified,Date Added,Plays,"
        b'Last Played,My Rating,Location\r\n"Second, live",B,,,1,,,,2,,,C:\\x\r\n'
        b'"Second, live",B,,,1,,,,9,,,C:\\x\r\n'
    )
    land(lake, "b/2024-06-01.csv", second, "2024-06-01T09:00:00+00:00")  # landed earlier
    run()
    assert silver(lake)["name"].tolist() == ["First"]
    os.utime(lake / RAW / LANDING / "b/2024-06-01.csv", (1717340000, 1717340000))  # re-landed
    run()
    assert silver(lake)["name"].tolist() == ["Second, live", "Second, live"]
    history = pd.read_parquet(lake / HISTORY)
    assert history[["name", "plays"]].values.tolist() == [["Second, live", 9]]

    bad = "Name\tArtist\n".encode("utf-16-le")  # no BOM: not UTF-8 either
    land(lake, "2024-07-01/Broken Library.txt", bad, "2024-07-02T00:00:00+00:00")
    missing = b"Name,Artist\r\nx,y\r\n"
    land(lake, "2024-07-02.csv", missing, "2024-07-03T00:00:00+00:00")
    run()
    assert silver(lake)["name"].tolist() == ["Second, live", "Second, live"]
    quarantine = lake / RAW / "quarantine" / "itunes" / "tracks"
    assert (quarantine / "2024-07-01" / "Broken Library.txt").read_bytes() == bad
    assert (quarantine / "2024-07-02.csv").read_bytes() == missing
    reason = json.loads((quarantine / "2024-07-02.csv.reason.json").read_text())
    assert "Album" in reason["reason"] and "My Rating" in reason["reason"]
    assert (quarantine / "2024-07-01" / "Broken Library.txt.reason.json").exists()
    alerts = [a for a in outbox(lake) if "quarantine" in json.dumps(a)]
    assert len(alerts) == 2

    # A sensor tick (fresh cursor) asks only for run keys that already ran: the daemon starts
    # none of them again; neither does another `lakehouse run`.
    with dg.DagsterInstance.get() as instance:
        runs = len(instance.get_runs())
        done = {r.tags.get("dagster/run_key") for r in instance.get_runs()}
        assert set(sensor_requests(instance)) <= done
    run()
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == runs


def test_mdy_dates_through_lakehouse_run(lake: Path) -> None:
    parameters = Path(os.environ[settings.PARAMETERS_FILE_VAR])
    text = parameters.read_text().replace("date_order: DMY", "date_order: MDY")
    parameters.write_text(text)
    body = txt(
        [row(Name="A", Date_Added="4/5/21, 1:29\u202fPM", Last_Played="12/31/99, 11:59 AM")],
        HEADER,
        encoding="utf-16-le",
        newline="\r\n",
    )
    land(lake, "2024-06-01.txt", body, "2024-06-01T00:00:00+00:00")
    run()
    frame = silver(lake)
    assert frame["dateadded"][0] == pd.Timestamp("2021-04-05 13:29")
    assert frame["lastplayed"][0] == pd.Timestamp("1999-12-31 11:59")
    assert frame["dateaddeddate"][0] == pd.Timestamp("2021-04-05")


def test_a_trailing_delimiter_adds_no_column() -> None:
    header = [*REQUIRED_COLUMNS, "Location"]
    values = ["Song", "A", "X", "", "1", "2001", "", "", "3", "", "", "C:\\x"]
    text = "\t".join(header) + "\t\r" + "\t".join(values) + "\t\t\r" + "\t".join(values[:-1])
    table = parse_export(b"\xff\xfe" + (text + "\r").encode("utf-16-le"), "a.txt")
    assert table.column_names == header
    assert table.column("Location").to_pylist() == ["C:\\x", ""]
    csv = ",".join(header) + ",\r\n" + ",".join(values) + ",\r\n"
    assert parse_export(csv.encode(), "a.csv").column_names == header
    with pytest.raises(BadFileError, match="line 2 has 13"):
        parse_export(("\t".join(header) + "\n" + "\t".join([*values, "x"])).encode(), "a.txt")


def test_a_far_smaller_newest_export_is_still_silver(lake: Path) -> None:
    four = txt([row(Name=f"s{i}") for i in range(4)], HEADER, encoding="utf-8", newline="\n")
    land(lake, "2024-05-01.txt", four, "2024-05-02T00:00:00+00:00")
    run()
    one = txt([row(Name="only")], HEADER, encoding="utf-8", newline="\n")
    land(lake, "2024-06-01.txt", one, "2024-06-02T00:00:00+00:00")
    run()  # the volume guard warns, it does not block: silver is the newest export
    assert silver(lake)["name"].tolist() == ["only"]
    with dg.DagsterInstance.get() as instance:
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(["silver", "itunes", "tracks"]), "volume")]
        )
    (record,) = check.values()
    evaluation = record.event.dagster_event.event_specific_data  # type: ignore[union-attr]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
