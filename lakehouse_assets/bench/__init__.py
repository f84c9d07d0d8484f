"""``lakehouse bench``: the pipeline against a floor and the original approach, on one site."""

DEFAULT_POSTS = 20_000
DEFAULT_STATISTICS_ROWS = 2_000_000
#: Rows per page the synthetic site serves (WordPress caps per_page at 100; a plugin endpoint
#: like the original site's serves far more; 10,000 keeps 2 million rows at 200 requests).
DEFAULT_PAGE_SIZE = 10_000
