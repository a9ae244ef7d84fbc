"""Customer analytics: materialized per-company summary and trend views."""
