"""History of a snapshot-partitioned table that grows with change, not with days.

Every partition (a day's or week's version of a whole table) lives under
``{source}/{dataset}/_snapshots/{partition}/`` as one of:

- ``data.parquet``: the version's bytes;
- ``_same_as_{T}.json``: a reference, when the version is byte-identical (SHA-256) to partition
  ``T``'s, which holds the bytes (an unchanged posts or terms table costs a few hundred bytes a
  day, not a copy). A reference always names a partition holding ``data.parquet`` (one hop).

The rules that keep every kept partition loadable:

- before a partition's bytes are replaced or removed, the partitions referencing them get them
  first: the newest referrer receives a server-side copy (a hard link locally) and the others are
  re-pointed to it (newest, so pruning old days later deletes only small references);
- a new reference is written before the old bytes of its partition are removed, and a reader
  prefers ``data.parquet`` to a reference, so a reader never finds a partition empty mid-change;
- a reference records the SHA-256 and size of its target; :func:`resolve_snapshot` checks them,
  so a reference left wrong by a concurrent writer fails loudly (rebuild that partition) rather
  than handing out another day's table.

Retention (:func:`prune_snapshots`) removes derived partitions more than N days older than the
newest one; raw history is never pruned, so any removed day can be rebuilt by a backfill.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import ObjectInfo, ObjectStore, file_sha256

#: How many references are followed before a partition counts as unresolvable (one in a
#: consistent history; more only after an interrupted change).
MAX_HOPS = 3


class BrokenSnapshotError(LookupError):
    """A kept partition's reference no longer matches the bytes it names."""


@dataclass
class Entry:
    """One partition of the history as a listing shows it."""

    partition: str
    data: ObjectInfo | None = None
    #: Partitions this one's references name (normally none or one).
    refs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoredSnapshot:
    """Where a partition's version ended up."""

    partition: str
    #: Key of the object holding the version's bytes (this partition's or the referenced one).
    key: str
    size: int
    sha256: str
    #: The partition holding the bytes, when this one is a reference to it.
    same_as: str | None
    #: Whether the partition is the newest kept one (its version is the current table).
    newest: bool


class SnapshotHistory:
    """The kept partitions of one table, listed once, changed through this object."""

    def __init__(self, store: ObjectStore, bucket: str, address: TableAddress):
        self.store, self.bucket, self.address = store, bucket, address
        self.entries: dict[str, Entry] = {}
        for info in store.list(bucket, address.snapshots_prefix):
            parsed = address.parse_snapshot_key(info.key)
            if parsed is None:
                continue
            partition, target = parsed
            entry = self.entries.setdefault(partition, Entry(partition))
            if target is None:
                entry.data = info
            else:
                entry.refs.append(target)

    # --- reading ------------------------------------------------------------------------------
    def partitions(self) -> list[str]:
        return sorted(p for p, e in self.entries.items() if e.data is not None or e.refs)

    def newest(self) -> str | None:
        kept = self.partitions()
        return kept[-1] if kept else None

    def holder(self, partition: str) -> str | None:
        """The partition whose ``data.parquet`` holds ``partition``'s bytes (by the listing)."""
        seen = partition
        for _ in range(MAX_HOPS + 1):
            entry = self.entries.get(seen)
            if entry is None:
                return None
            if entry.data is not None:
                return seen
            nxt = next((t for t in entry.refs if t in self.entries), None)
            if nxt is None:
                return None
            seen = nxt
        return None

    def referrers(self, partition: str) -> list[str]:
        """Partitions whose references name ``partition``, in order."""
        return sorted(p for p, e in self.entries.items() if partition in e.refs)

    def resolve(self, partition: str) -> str | None:
        """Key of the bytes of ``partition``, references checked against what they recorded;
        None when the partition is not kept. Raises :class:`BrokenSnapshotError` for a
        reference whose target has changed or gone."""
        entry = self.entries.get(partition)
        if entry is None:
            return None
        if entry.data is not None:
            return entry.data.key
        problems: list[str] = []
        for target in entry.refs:
            key = self.address.snapshot_reference_key(partition, target)
            recorded = self.store.read_json(self.bucket, key)
            holder = self.holder(target)
            if holder is None:
                problems.append(f"{target} is not kept")
                continue
            data = self.entries[holder].data
            assert data is not None
            if data.size != recorded.get("size") or (
                self.store.sha256(self.bucket, data.key) != recorded.get("sha256")
            ):
                problems.append(f"{holder}'s table is no longer the one referenced")
                continue
            return data.key
        raise BrokenSnapshotError(
            f"{self.address.label}: partition {partition} is kept as a reference, and "
            f"{'; '.join(problems) or 'it names nothing'}: materialize that partition again"
        )

    def identical(self, partition: str, size: int, sha256: str) -> bool:
        """Whether ``partition``'s bytes (by the listing) are ``size`` bytes hashing to
        ``sha256`` (sizes first: a changed table rarely has the same size, and then nothing is
        read)."""
        holder = self.holder(partition)
        if holder is None:
            return False
        data = self.entries[holder].data
        assert data is not None
        return data.size == size and self.store.sha256(self.bucket, data.key) == sha256

    # --- changing -----------------------------------------------------------------------------
    def store_file(self, partition: str, path: Path, *, dedupe: bool = True) -> StoredSnapshot:
        """Keep the Parquet file at ``path`` as ``partition``'s version: as a reference when the
        kept partition before it holds the same bytes (unless ``dedupe`` is off), else as its
        own ``data.parquet``. (Only the one before: a backfilled past day identical to a later
        one is stored whole, so a backfill leaves the days after it as they were.)"""
        size, sha = path.stat().st_size, file_sha256(path)
        own = self.entries.get(partition)
        if own is not None and own.data is not None and self.identical(partition, size, sha):
            self._drop_refs(partition)
            return self._stored(partition, own.data.key, size, sha, None)
        for neighbour in self._neighbours(partition, after=False) if dedupe else ():
            holder = self.holder(neighbour)
            if holder is not None and holder != partition and self.identical(holder, size, sha):
                return self._refer(partition, holder, size, sha)
        self._vacate(partition)
        key = self.address.snapshot_key(partition)
        info = self.store.put_file(self.bucket, key, path)
        self._set_data(partition, info)
        return self._stored(partition, key, size, sha, None)

    def store_copy(self, partition: str, source_key: str) -> StoredSnapshot:
        """Keep the object at ``source_key`` (the current table) as ``partition``'s version,
        without its bytes passing through here: a reference when a kept partition (the newest,
        else a neighbour) already holds the same bytes, else a server-side copy."""
        source = self.store.listed(self.bucket, source_key)
        if source is None:
            raise FileNotFoundError(self.store.uri(self.bucket, source_key))
        size, sha = source.size, self.store.sha256(self.bucket, source_key)
        newest = self.newest()
        candidates = [newest] if newest is not None else []
        candidates += [p for p in self._neighbours(partition) if p not in candidates]
        if partition in self.entries and self.identical(partition, size, sha):
            holder = self.holder(partition)
            assert holder is not None
            if holder == partition:
                self._drop_refs(partition)
            data = self.entries[holder].data
            assert data is not None
            same_as = None if holder == partition else holder
            return self._stored(partition, data.key, size, sha, same_as)
        for candidate in candidates:
            holder = self.holder(candidate)
            if holder is not None and holder != partition and self.identical(holder, size, sha):
                return self._refer(partition, holder, size, sha)
        self._vacate(partition)
        key = self.address.snapshot_key(partition)
        info = self.store.copy(self.bucket, source_key, key)
        self._set_data(partition, info)
        return self._stored(partition, key, size, sha, None)

    def prune(self, keep_days: int, keep: Collection[str] = ()) -> list[str]:
        """Remove partitions more than ``keep_days`` days older than the newest one (except
        ``keep``); bytes still referenced by a kept partition move to it first. Partitions
        that are not dates are never removed. Returns the removed partitions."""
        dated = {p: _as_date(p) for p in self.partitions()}
        days = {p: d for p, d in dated.items() if d is not None}
        if not days:
            return []
        cutoff = max(days.values()) - timedelta(days=keep_days)
        doomed = sorted(p for p, d in days.items() if d < cutoff and p not in keep)
        for partition in doomed:
            self._vacate(partition, excluded=set(doomed))
            self._remove(partition)
        return doomed

    # --- steps --------------------------------------------------------------------------------
    def _neighbours(self, partition: str, *, after: bool = True) -> Iterator[str]:
        """The kept partition just before ``partition``, then (``after``) the one just after."""
        others = [p for p in self.partitions() if p != partition]
        earlier = [p for p in others if p < partition]
        later = [p for p in others if p > partition]
        if earlier:
            yield earlier[-1]
        if later and after:
            yield later[0]

    def _stored(
        self, partition: str, key: str, size: int, sha: str, same_as: str | None
    ) -> StoredSnapshot:
        newest = self.newest()
        return StoredSnapshot(
            partition, key, size, sha, same_as, newest is None or partition >= newest
        )

    def _refer(self, partition: str, holder: str, size: int, sha: str) -> StoredSnapshot:
        """Make ``partition`` a reference to ``holder`` (written before its old bytes go)."""
        self._vacate(partition)
        self._write_ref(partition, holder, size, sha)
        entry = self.entries[partition]
        if entry.data is not None:
            self.store.delete(self.bucket, entry.data.key)
            entry.data = None
        self._drop_refs(partition, but=holder)
        data = self.entries[holder].data
        assert data is not None
        return self._stored(partition, data.key, size, sha, holder)

    def _write_ref(self, partition: str, holder: str, size: int, sha: str) -> None:
        key = self.address.snapshot_reference_key(partition, holder)
        self.store.put_json(
            self.bucket,
            key,
            {
                "partition": partition,
                "same_as": holder,
                "key": self.address.snapshot_key(holder),
                "size": size,
                "sha256": sha,
            },
        )
        entry = self.entries.setdefault(partition, Entry(partition))
        if holder not in entry.refs:
            entry.refs.append(holder)

    def _vacate(self, partition: str, excluded: Collection[str] = ()) -> None:
        """Give the bytes ``partition`` holds to the partitions referencing them (except
        ``excluded``, about to go), so its ``data.parquet`` can be replaced or removed."""
        entry = self.entries.get(partition)
        if entry is None or entry.data is None:
            return
        referrers = [r for r in self.referrers(partition) if r not in excluded]
        if not referrers:
            return
        heir = referrers[-1]
        info = self.store.copy(self.bucket, entry.data.key, self.address.snapshot_key(heir))
        sha = self.store.sha256(self.bucket, info.key)
        self._set_data(heir, info)
        for other in referrers[:-1]:
            self._write_ref(other, heir, info.size, sha)
            self._delete_ref(other, partition)
        self._delete_ref(heir, partition)

    def _set_data(self, partition: str, info: ObjectInfo) -> None:
        self.entries.setdefault(partition, Entry(partition)).data = info
        self._drop_refs(partition)

    def _drop_refs(self, partition: str, but: str | None = None) -> None:
        for target in list(self.entries[partition].refs):
            if target != but:
                self._delete_ref(partition, target)

    def _delete_ref(self, partition: str, target: str) -> None:
        self.store.delete(self.bucket, self.address.snapshot_reference_key(partition, target))
        entry = self.entries.get(partition)
        if entry is not None and target in entry.refs:
            entry.refs.remove(target)

    def _remove(self, partition: str) -> None:
        entry = self.entries.pop(partition, None)
        if entry is None:
            return
        for target in entry.refs:
            self.store.delete(self.bucket, self.address.snapshot_reference_key(partition, target))
        if entry.data is not None:
            self.store.delete(self.bucket, entry.data.key)


def _as_date(partition: str) -> date | None:
    try:
        return date.fromisoformat(partition[:10])
    except ValueError:
        return None


def resolve_snapshot(
    store: ObjectStore, bucket: str, address: TableAddress, partition: str
) -> str | None:
    """Key of the object holding ``partition``'s version of the table (references followed and
    checked), or None when the partition is not kept. For any code reading a past version."""
    return SnapshotHistory(store, bucket, address).resolve(partition)


def kept_snapshots(store: ObjectStore, bucket: str, address: TableAddress) -> dict[str, str]:
    """Every kept partition → the key of the object holding its bytes (by one listing; a
    reference maps to the partition holding the bytes)."""
    history = SnapshotHistory(store, bucket, address)
    kept: dict[str, str] = {}
    for partition in history.partitions():
        holder = history.holder(partition)
        if holder is not None:
            data = history.entries[holder].data
            assert data is not None
            kept[partition] = data.key
    return kept
