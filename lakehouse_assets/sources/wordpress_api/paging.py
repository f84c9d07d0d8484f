"""How WordPress endpoints page: ``?page=N`` up to ``X-WP-TotalPages``, rows announced in
``X-WP-Total``; the 400 ``rest_post_invalid_page_number`` (or an empty page) past the real last
page ends paging when the header overstates it."""

from __future__ import annotations

from lakehouse_assets.resources.paging import PageNumberPaging

WORDPRESS_PAGING = PageNumberPaging(
    total_pages_header="X-WP-TotalPages",
    total_rows_header="X-WP-Total",
    page_param="page",
    past_end_statuses=frozenset({400}),
    past_end_codes=frozenset({"rest_post_invalid_page_number"}),
)
