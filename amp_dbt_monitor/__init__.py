"""Companion monitor: Amp jobs and data freshness for dbt-amp projects, kept in SQLite."""
