"""Devops page and API for the CRM's scheduled tasks: each tenant's last run, its result and failures (the rules
live in datasource_registry.schedule and tenant_runtime.core.schedule)."""
