"""The shared medallion machinery every source declares itself into: dataset contracts, the
typing engine, raw snapshots and landed files, bronze, silver checks, publishing, partitions."""
