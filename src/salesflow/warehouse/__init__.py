"""The star-schema warehouse: one schema definition, DuckDB (default) or PostgreSQL targets."""
