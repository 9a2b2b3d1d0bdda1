"""Leads (线索) and lead pools: claim, assign, recycle, follow-ups, conversion to a customer."""
