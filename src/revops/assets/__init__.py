"""Dagster definitions for revops: every warehouse table is an asset."""
