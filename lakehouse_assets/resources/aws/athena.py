"""Ad-hoc SQL over the Glue catalog with Athena (awswrangler), for notebooks and the CLI.

Not used by the assets: the pipeline never needs Athena. ``ctas_approach=False`` keeps the
query read-only (the CTAS approach creates and drops a temporary table in the database, which
the code location's IAM policy does not grant). Results land in ``s3_output`` (or the
workgroup's result location), encrypted with SSE-S3.

    from lakehouse_assets.resources.aws.athena import AthenaQuery
    from lakehouse_assets.resources.aws.boto import AwsClientsResource
    athena = AthenaQuery(aws=AwsClientsResource(region_name="eu-west-2"),
                         s3_output="s3://my-athena-results/lakehouse/")
    athena.query("SELECT post_title, SUM(statistics_count) AS views "
                 "FROM wordpress_api__statistics_postname GROUP BY 1 ORDER BY 2 DESC LIMIT 10")
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from lakehouse_assets.resources.aws.boto import AwsClientsResource


class AthenaQuery(dg.ConfigurableResource):
    """Runs a SQL query in Athena against a layer's Glue database; returns a DataFrame."""

    aws: AwsClientsResource
    database_prefix: str = "lakehouse_"
    workgroup: str = "primary"
    s3_output: str | None = None

    def query(self, sql: str, layer: str = "gold", params: dict[str, Any] | None = None) -> Any:
        import awswrangler as wr

        return wr.athena.read_sql_query(
            sql,
            database=f"{self.database_prefix}{layer}",
            ctas_approach=False,
            workgroup=self.workgroup,
            s3_output=self.s3_output,
            encryption="SSE_S3",
            params=params,
            boto3_session=self.aws.session(),
        )
