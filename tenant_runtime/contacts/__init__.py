"""Contacts (联系人) of a customer: several per customer, one primary, do-not-contact with who and when."""
