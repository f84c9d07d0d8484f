"""The iTunes source: "Export Playlist" files landed in S3 → silver tracks → gold play history."""
