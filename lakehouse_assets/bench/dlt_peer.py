"""A peer for ``lakehouse bench --with-dlt``: dlt loads the same served site, in its own process.

dlt's ``rest_api`` source with the filesystem destination writing Parquet is the closest
off-the-shelf equivalent of our raw + bronze (extract every page, land it as files). The site
pages by ``X-WP-TotalPages``, which none of dlt's paginators read (its page-number paginator
takes the total from the body), so a five-line paginator reading the header is declared here:
the same number of requests as ours, no 400 past the end asked for.

``python -m lakehouse_assets.bench.dlt_peer CONFIG.json RESULT.json``; CONFIG holds ``urls``
(dataset → endpoint URL), ``out`` and ``workdir``. RESULT: seconds per stage (extract,
normalize, load), rows per table, and the process's peak RSS (``VmHWM``, as every bench child).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from lakehouse_assets.bench.measure import RssSampler, Stages, peak_rss_bytes  # noqa: E402


def available() -> bool:
    """Whether dlt (with its Parquet and filesystem extras) can be imported here."""
    try:
        import dlt  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _paginator() -> Any:
    from dlt.sources.helpers.rest_client.paginators import BasePaginator

    class TotalPagesPaginator(BasePaginator):
        """``?page=N`` up to ``X-WP-TotalPages`` (one page when the header is absent)."""

        def __init__(self) -> None:
            super().__init__()
            self.page = 1

        def init_request(self, request: Any) -> None:
            self.page = 1

        def update_state(self, response: Any, data: Any = None) -> None:
            total = int(response.headers.get("X-WP-TotalPages") or 1)
            if self.page >= total:
                self._has_next_page = False
            else:
                self.page += 1

        def update_request(self, request: Any) -> None:
            request.params = {**(request.params or {}), "page": self.page}

    return TotalPagesPaginator()


def run(config: dict[str, Any], sampler: RssSampler) -> dict[str, Any]:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    stages = Stages(sampler)
    clock = time.perf_counter()
    with stages.stage("import"):
        import dlt
        from dlt.sources.rest_api import rest_api_source
    urls: dict[str, str] = config["urls"]
    base = next(iter(urls.values())).rstrip("/").rsplit("/", 1)[0] + "/"
    if not all(url.startswith(base) for url in urls.values()):
        raise ValueError("the endpoints do not share one base URL")
    source = rest_api_source(
        {
            "client": {"base_url": base},
            "resource_defaults": {"write_disposition": "replace"},
            "resources": [
                {
                    "name": name,
                    "endpoint": {
                        "path": url[len(base) :],
                        "paginator": _paginator(),
                        "data_selector": "$",
                    },
                }
                for name, url in urls.items()
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="lakehouse_bench_peer",
        destination=dlt.destinations.filesystem(bucket_url=str(Path(config["out"]).resolve())),
        dataset_name="wordpress_api",
        pipelines_dir=str(Path(config["workdir"]) / "dlt_pipelines"),
    )
    with stages.stage("extract"):
        pipeline.extract(source, loader_file_format="parquet")
    with stages.stage("normalize"):
        normalized = pipeline.normalize()
    with stages.stage("load"):
        pipeline.load()
    counts = dict(normalized.row_counts) if normalized is not None else {}
    rows = {name: int(counts.get(name, 0)) for name in urls}
    return {
        "success": True,
        "run_seconds": time.perf_counter() - clock,
        "rows": rows,
        "stages": stages.results,
        "dlt_version": dlt.__version__,
    }


def main(argv: list[str]) -> int:
    config_path, result_path = argv
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    sampler = RssSampler().start()
    result = run(config, sampler)
    sampler.stop()
    result["peak_rss_bytes"] = peak_rss_bytes()
    result["in_process_seconds"] = time.perf_counter() - STARTED
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
