"""Departments, users, roles, permissions and data scope of one tenant."""
