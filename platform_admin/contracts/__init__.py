"""Contracts (合同表) between the platform and an enterprise."""
