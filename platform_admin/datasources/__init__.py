"""Devops pages and API for each enterprise's datasource (the rules live in datasource_registry)."""
