"""dlt sources (one package per provider) and the path that loads them into ClickHouse."""
