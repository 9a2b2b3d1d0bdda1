"""Devops pages and API for fleet migrations of the tenant databases (the rules live in datasource_registry.fleet)."""
