"""The transactions source: landed order JSON and item CSV, enriched from stores, customers and
fraud scores (MySQL, DynamoDB, CloudWatch Logs on AWS; packaged samples locally)."""
