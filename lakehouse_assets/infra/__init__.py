"""Creating the AWS resources the ``aws`` deployment expects (CLI helpers, not used by assets)."""
