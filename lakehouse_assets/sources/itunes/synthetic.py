"""Synthetic iTunes exports of any size, for timings and tests that need more than the samples.

They look like what iTunes for Windows writes: UTF-16 LE with a BOM, CR line endings, its full
header, empty Plays / Last Played / My Rating for tracks never played or rated, no trailing
field for tracks without a Location, and names with quotes, ampersands and non-ASCII letters.
The same ``tracks`` and ``seed`` always give the same bytes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

HEADER = (
    "Name",
    "Artist",
    "Composer",
    "Album",
    "Grouping",
    "Work",
    "Movement Number",
    "Movement Count",
    "Movement Name",
    "Genre",
    "Size",
    "Time",
    "Disc Number",
    "Disc Count",
    "Track Number",
    "Track Count",
    "Year",
    "Date Modified",
    "Date Added",
    "Bit Rate",
    "Sample Rate",
    "Volume Adjustment",
    "Kind",
    "Equaliser",
    "Comments",
    "Plays",
    "Last Played",
    "Skips",
    "Last Skipped",
    "My Rating",
    "Location",
)
FORMATS = {"DMY": "%d/%m/%Y %H:%M", "MDY": "%m/%d/%Y %H:%M"}

_WORDS = (
    "Blue", "Night", "Río", "Château", "Smile", "Heart", "Ghost", "Summer", "Städte", "Rain",
    "Éclair", "Road", "Fire", "Москва", "Light", "Dream", "Tokyo", "Ocean", "Søndag", "Gold",
)  # fmt: skip
_ARTISTS = (
    "Björk", "Sigur Rós", "Mötley Crüe", "The Beatles", "Simon & Garfunkel", "坂本龍一",
    "Beyoncé", "Daft Punk", "Nina Simone", "Los Lobos", "Céline Dion", "Radiohead",
)  # fmt: skip
_GENRES = ("Rock", "Pop", "Electronic", "Jazz", "Classical", "Alternative", "Soundtrack", "")
_KINDS = (("MPEG audio file", "mp3", 320), ("AAC audio file", "m4a", 256))


def synthetic_export(tracks: int, seed: int, *, date_order: str = "DMY") -> bytes:
    """A ``.txt`` export of ``tracks`` tracks, ``tracks // 10`` albums, dates in ``date_order``."""
    if date_order not in FORMATS:
        raise ValueError(f"date order must be one of {', '.join(FORMATS)}, not {date_order!r}")
    rng = random.Random(seed)
    written = FORMATS[date_order]
    start = datetime(2009, 1, 1)
    lines = ["\t".join(HEADER)]
    albums = max(1, tracks // 10)
    for index in range(tracks):
        album_index = index % albums
        album_rng = random.Random(seed * 1_000_003 + album_index)
        artist = album_rng.choice(_ARTISTS)
        album = f"{album_rng.choice(_WORDS)} {album_rng.choice(_WORDS)} {album_index}"
        genre = album_rng.choice(_GENRES)
        year = album_rng.randint(1965, 2025)
        name = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.02:
            name = f'{name} ("Live")'
        if rng.random() < 0.02:
            name = f"{name} & Friends"
        number = index // albums + 1
        added = start + timedelta(minutes=rng.randint(0, 8_000_000))
        modified = added + timedelta(minutes=rng.randint(0, 100_000))
        played = rng.random() < 0.8
        plays = rng.randint(1, 400) if played else 0
        last_played = modified + timedelta(minutes=rng.randint(0, 500_000)) if played else None
        rating = rng.choice(("", "", "", "20", "40", "60", "80", "100"))
        kind, extension, bit_rate = rng.choice(_KINDS)
        seconds = rng.randint(90, 600)
        local = rng.random() < 0.9
        fields = [
            name,
            artist,
            rng.choice(("", "", artist)),
            album,
            "",
            "",
            "",
            "",
            "",
            genre,
            str(seconds * bit_rate * 125),
            str(seconds),
            "1",
            "1",
            str(number),
            "",
            str(year),
            modified.strftime(written),
            added.strftime(written),
            str(bit_rate),
            "44100",
            "",
            kind,
            "",
            "",
            str(plays) if plays else "",
            last_played.strftime(written) if last_played else "",
            str(rng.randint(1, 9)) if rng.random() < 0.1 else "",
            "",
            rating,
            (
                f"C:\\Users\\jane\\Music\\iTunes\\iTunes Media\\Music\\{artist}\\{album}\\"
                f"{number:02d} {name}.{extension}"
            )
            if local
            else "",
        ]
        line = "\t".join(fields)
        lines.append(line if local else line[:-1])  # iTunes leaves out a trailing empty field
    return "\ufeff".encode("utf-16-le") + "\r".join(lines).encode("utf-16-le") + b"\r\x00"
