"""Staff accounts, sign-in for pages and API, and throttling of failed sign-ins."""
