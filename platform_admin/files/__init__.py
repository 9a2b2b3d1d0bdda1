"""Uploaded scans (licences, contracts), stored outside the web root and served only to staff."""
