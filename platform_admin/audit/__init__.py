"""Audit trail: every create, update, delete and state change in the control plane."""
