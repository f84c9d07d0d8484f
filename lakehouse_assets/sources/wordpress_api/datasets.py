"""The WordPress datasets the pipeline carries: adding one is a single entry in DATASETS."""

from __future__ import annotations

from lakehouse_assets.transforms.schema import DatasetSchema

SOURCE = "wordpress_api"

POSTS = DatasetSchema(
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

STATISTICS_PAGES = DatasetSchema(
    name="statistics_pages",
    description="Daily page-view counts per page from WP Statistics (wp_statistics_pages).",
    key=("page_id",),
    integers=("page_id", "count", "id"),
    datetimes=("date",),
    strings=("uri", "type"),
)

TERMS = DatasetSchema(
    name="terms",
    description="Categories and tags (wp_terms).",
    key=("term_id",),
    integers=("term_id", "term_group"),
    strings=("name", "slug"),
)

DATASETS: tuple[DatasetSchema, ...] = (POSTS, STATISTICS_PAGES, TERMS)
