"""Common Ground: the Dagster code location (ingestion, gates and dbt orchestration)."""
