"""Reaching a tenant's database: datasource records, secrets, pool registry, provisioning.

The control plane asks this package whether an enterprise may be opened; until datasources exist
(next milestone) the registry contributes no open checks of its own.
"""


def init_app(app):
    app.extensions.setdefault("open_checks", [])
