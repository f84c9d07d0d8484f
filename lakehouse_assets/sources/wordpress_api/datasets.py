"""The WordPress datasets the pipeline carries: adding one is a single entry in DATASETS."""

from __future__ import annotations

from datetime import timedelta

from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.source import Source

SOURCE = "wordpress_api"
#: Freshness SLA: the daily 07:00 run, plus two hours for a slow or retried run.
WORDPRESS = Source(
    SOURCE,
    "Blog posts and their page views from WordPress REST endpoints.",
    freshness=timedelta(hours=26),
)
#: StringList of the endpoint URLs, one per dataset (in Parameter Store on AWS).
ENDPOINTS_PARAMETER = "/wordpress/amazonwebshark/api/mysqlendpoints"

POSTS = DatasetSchema.of(
    name="posts",
    description="WordPress posts, pages, attachments and revisions (wp_posts).",
    key=("ID",),
    integers=("ID", "post_author", "post_parent", "menu_order", "comment_count"),
    datetimes=("post_date", "post_date_gmt", "post_modified", "post_modified_gmt"),
    strings=(
        "post_content",
        "post_title",
        "post_excerpt",
        "post_status",
        "comment_status",
        "ping_status",
        "post_password",
        "post_name",
        "to_ping",
        "pinged",
        "post_content_filtered",
        "guid",
        "post_type",
        "post_mime_type",
    ),
    latest_by=("post_modified_gmt", "post_modified"),
    # Never publish draft passwords or the full HTML body into metadata previews.
    preview_excluded=("post_password", "post_content", "post_content_filtered"),
)

STATISTICS_PAGES = DatasetSchema.of(
    name="statistics_pages",
    description="Daily page-view counts per page from WP Statistics (wp_statistics_pages).",
    key=("page_id",),
    integers=("page_id", "count", "id"),
    datetimes=("date",),
    strings=("uri", "type"),
)

TERMS = DatasetSchema.of(
    name="terms",
    description="Categories and tags (wp_terms).",
    key=("term_id",),
    integers=("term_id", "term_group"),
    strings=("name", "slug"),
)

DATASETS: tuple[DatasetSchema, ...] = (POSTS, STATISTICS_PAGES, TERMS)
