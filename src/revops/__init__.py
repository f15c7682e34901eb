"""revops: Stripe, bank and books in one ClickHouse warehouse, modeled with dbt, orchestrated by Dagster."""
