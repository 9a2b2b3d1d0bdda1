"""The public pool (公海): recycling rules with a dry run, set-based recycling, claim and assign with caps."""
