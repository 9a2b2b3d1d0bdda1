"""Registrations from web, WeChat, QR code and offline; return visits; conversion to an enterprise."""
