"""What the CRM tells people: in-app notifications for users, and notices to customers (SMS/e-mail, each
recorded, never to a do-not-contact contact)."""
