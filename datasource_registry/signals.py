"""Signals across packages without imports across them: the control plane announces tenant changes,
the tenant runtime drops what it cached."""

from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: tenant_id. Sent after a tenant is opened, closed, suspended, resumed, or its
# datasource is configured, advanced or deleted.
tenant_changed = _signals.signal("tenant-changed")
