"""The shop source: orders and customers landed as files (JSON, CSV)."""
