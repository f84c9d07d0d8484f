"""The WordPress source: custom REST endpoints listed in Parameter Store, daily."""
