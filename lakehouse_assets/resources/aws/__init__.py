"""Resources backed by AWS services (boto3 clients honouring AWS_ENDPOINT_URL)."""
