"""Parquet files joined row group by row group, the bytes copied as they are.

A table that grows by a day's rows need not be decoded and encoded again: its row groups are
already compressed pages, and a Parquet file is only those pages plus a footer saying where
each one lies. :func:`splice` writes a new file from row groups of existing files (same schema)
by copying their bytes and writing one footer with the offsets moved — about the cost of a file
copy, where decoding and encoding the same rows costs as much as building them. pyarrow writes
and reads these files but has no API for it (its ``FileMetaData`` offsets are read-only), so the
footer is read and written here with the Thrift compact protocol Parquet uses, as a generic
tree (nothing but the offsets is interpreted, so every other field round-trips unchanged).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"PAR1"
COPY_CHUNK = 8 * 1024 * 1024

# Thrift compact protocol types.
BOOL_TRUE, BOOL_FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(1, 13)

# Field ids of the Parquet footer (parquet.thrift) this module reads or changes.
FILE_NUM_ROWS, FILE_ROW_GROUPS, FILE_KEY_VALUES = 3, 4, 5
GROUP_COLUMNS, GROUP_NUM_ROWS, GROUP_FILE_OFFSET, GROUP_ORDINAL = 1, 3, 5, 7
CHUNK_PATH, CHUNK_FILE_OFFSET, CHUNK_META = 1, 2, 3
#: The page index lives outside the row groups (after them): not copied, so not referenced.
CHUNK_PAGE_INDEX = (4, 5, 6, 7)
META_COMPRESSED_SIZE, META_DATA_PAGE, META_INDEX_PAGE, META_DICTIONARY_PAGE = 7, 9, 10, 11
META_BLOOM_FILTER, META_BLOOM_LENGTH = 14, 15
KEY_VALUE_KEY, KEY_VALUE_VALUE = 1, 2


class ParquetSpliceError(ValueError):
    """The files cannot be joined (different schemas, an unreadable footer)."""


@dataclass
class Field:
    id: int
    type: int
    value: Any  # int, float, bool, bytes, list[Field] (struct), ThriftList


@dataclass
class ThriftList:
    element_type: int
    items: list[Any]


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.at = 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def value(self, kind: int) -> Any:
        if kind in (BOOL_TRUE, BOOL_FALSE):  # inside a list: one byte
            return self.byte() == BOOL_TRUE
        if kind == BYTE:
            return struct.unpack("b", bytes([self.byte()]))[0]
        if kind in (I16, I32, I64):
            return self.zigzag()
        if kind == DOUBLE:
            (number,) = struct.unpack("<d", self.data[self.at : self.at + 8])
            self.at += 8
            return number
        if kind == BINARY:
            size = self.varint()
            raw = self.data[self.at : self.at + size]
            self.at += size
            return raw
        if kind in (LIST, SET):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            return ThriftList(element, [self.value(element) for _ in range(size)])
        if kind == STRUCT:
            return self.struct()
        raise ParquetSpliceError(f"unsupported Thrift type {kind} in a Parquet footer")

    def struct(self) -> list[Field]:
        fields: list[Field] = []
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            delta, kind = header >> 4, header & 0x0F
            field_id = last + delta if delta else self.zigzag()
            if kind in (BOOL_TRUE, BOOL_FALSE):
                value: Any = kind == BOOL_TRUE
            else:
                value = self.value(kind)
            fields.append(Field(field_id, kind, value))
            last = field_id


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, value: int) -> None:
        while True:
            if value < 0x80:
                self.out.append(value)
                return
            self.out.append((value & 0x7F) | 0x80)
            value >>= 7

    def zigzag(self, value: int) -> None:
        self.varint((value << 1) ^ (value >> 63))

    def value(self, kind: int, value: Any) -> None:
        if kind in (BOOL_TRUE, BOOL_FALSE):
            self.out.append(BOOL_TRUE if value else BOOL_FALSE)
        elif kind == BYTE:
            self.out += struct.pack("b", value)
        elif kind in (I16, I32, I64):
            self.zigzag(value)
        elif kind == DOUBLE:
            self.out += struct.pack("<d", value)
        elif kind == BINARY:
            self.varint(len(value))
            self.out += value
        elif kind in (LIST, SET):
            size = len(value.items)
            if size < 15:
                self.out.append((size << 4) | value.element_type)
            else:
                self.out.append(0xF0 | value.element_type)
                self.varint(size)
            for item in value.items:
                self.value(value.element_type, item)
        elif kind == STRUCT:
            self.struct(value)
        else:
            raise ParquetSpliceError(f"unsupported Thrift type {kind}")

    def struct(self, fields: list[Field]) -> None:
        last = 0
        for field in fields:
            kind = field.type
            if kind in (BOOL_TRUE, BOOL_FALSE):
                kind = BOOL_TRUE if field.value else BOOL_FALSE
            delta = field.id - last
            if 0 < delta <= 15:
                self.out.append((delta << 4) | kind)
            else:
                self.out.append(kind)
                self.zigzag(field.id)
            if kind not in (BOOL_TRUE, BOOL_FALSE):
                self.value(kind, field.value)
            last = field.id
        self.out.append(0)


def decode(data: bytes) -> list[Field]:
    return _Reader(data).struct()


def encode(fields: list[Field]) -> bytes:
    writer = _Writer()
    writer.struct(fields)
    return bytes(writer.out)


def _get(fields: list[Field], field_id: int) -> Field | None:
    return next((f for f in fields if f.id == field_id), None)


def _set(fields: list[Field], field_id: int, kind: int, value: Any) -> None:
    """Set (or add, keeping fields in id order) one field of a struct."""
    existing = _get(fields, field_id)
    if existing is not None:
        existing.value = value
        return
    fields.append(Field(field_id, kind, value))
    fields.sort(key=lambda f: f.id)


def read_footer(path: Path) -> tuple[list[Field], int]:
    """The decoded footer of the Parquet file at ``path``, and where it starts."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        if size < 12:
            raise ParquetSpliceError(f"{path.name} is too small to be a Parquet file")
        handle.seek(size - 8)
        tail = handle.read(8)
        if tail[4:] != MAGIC:
            raise ParquetSpliceError(f"{path.name} is not a Parquet file")
        (length,) = struct.unpack("<i", tail[:4])
        start = size - 8 - length
        handle.seek(start)
        return decode(handle.read(length)), start


@dataclass(frozen=True)
class RowGroups:
    """Row groups ``indices`` (in order) of the Parquet file at ``path``."""

    path: Path
    indices: Sequence[int]


def _group_span(group: list[Field]) -> tuple[int, int]:
    """Byte range of a row group's column chunks in its file."""
    start, end = None, 0
    columns = _get(group, GROUP_COLUMNS)
    assert columns is not None
    for chunk in columns.value.items:
        meta = _get(chunk, CHUNK_META)
        if meta is None or _get(chunk, CHUNK_PATH) is not None:
            raise ParquetSpliceError("a column chunk lies in another file")
        data = _get(meta.value, META_DATA_PAGE)
        dictionary = _get(meta.value, META_DICTIONARY_PAGE)
        size = _get(meta.value, META_COMPRESSED_SIZE)
        assert data is not None and size is not None
        first = data.value if dictionary is None else min(data.value, dictionary.value)
        start = first if start is None else min(start, first)
        end = max(end, first + size.value)
    assert start is not None
    return start, end


def _moved(group: list[Field], shift: int, ordinal: int) -> list[Field]:
    """The row group's metadata with every offset moved by ``shift`` bytes."""
    columns = _get(group, GROUP_COLUMNS)
    assert columns is not None
    for chunk in columns.value.items:
        chunk[:] = [f for f in chunk if f.id not in CHUNK_PAGE_INDEX]
        offset = _get(chunk, CHUNK_FILE_OFFSET)
        if offset is not None and offset.value:
            offset.value += shift
        meta = _get(chunk, CHUNK_META)
        assert meta is not None
        meta.value[:] = [
            f for f in meta.value if f.id not in (META_BLOOM_FILTER, META_BLOOM_LENGTH)
        ]
        for field_id in (META_DATA_PAGE, META_INDEX_PAGE, META_DICTIONARY_PAGE):
            field = _get(meta.value, field_id)
            if field is not None:
                field.value += shift
    offset = _get(group, GROUP_FILE_OFFSET)
    if offset is not None:
        offset.value += shift
    _set(group, GROUP_ORDINAL, I16, ordinal)
    return group


def splice(
    parts: Sequence[RowGroups], out: Path, key_values: dict[bytes, bytes] | None = None
) -> int:
    """Write ``out`` from the row groups of ``parts`` in order; returns its rows.

    Every part must have the schema of the first (compared field for field in the footer).
    The footer is the first part's, with the row groups, the row count and, if given,
    ``key_values`` (the key-value metadata, e.g. pandas' dtypes) replaced.
    """
    if not parts:
        raise ParquetSpliceError("nothing to splice")
    footers = [read_footer(part.path)[0] for part in parts]
    template = footers[0]
    schema = encode([f for f in template if f.id == 2])
    for part, footer in zip(parts, footers, strict=True):
        if encode([f for f in footer if f.id == 2]) != schema:
            raise ParquetSpliceError(f"{part.path.name} has another schema")
    groups: list[list[Field]] = []
    rows = 0
    with open(out, "wb") as target:
        target.write(MAGIC)
        for part, footer in zip(parts, footers, strict=True):
            row_groups = _get(footer, FILE_ROW_GROUPS)
            available = row_groups.value.items if row_groups is not None else []
            with open(part.path, "rb") as source:
                for index in part.indices:
                    group = available[index]
                    start, end = _group_span(group)
                    shift = target.tell() - start
                    source.seek(start)
                    remaining = end - start
                    while remaining:
                        chunk = source.read(min(COPY_CHUNK, remaining))
                        if not chunk:
                            raise ParquetSpliceError(f"{part.path.name} ends inside a row group")
                        target.write(chunk)
                        remaining -= len(chunk)
                    groups.append(_moved(group, shift, len(groups)))
                    count = _get(group, GROUP_NUM_ROWS)
                    rows += count.value if count is not None else 0
        footer = [Field(f.id, f.type, f.value) for f in template]
        _set(footer, FILE_NUM_ROWS, I64, rows)
        _set(footer, FILE_ROW_GROUPS, LIST, ThriftList(STRUCT, groups))
        if key_values is not None:
            pairs = [
                [Field(KEY_VALUE_KEY, BINARY, k), Field(KEY_VALUE_VALUE, BINARY, v)]
                for k, v in key_values.items()
            ]
            _set(footer, FILE_KEY_VALUES, LIST, ThriftList(STRUCT, pairs))
        encoded = encode(footer)
        target.write(encoded)
        target.write(struct.pack("<i", len(encoded)))
        target.write(MAGIC)
    return rows
