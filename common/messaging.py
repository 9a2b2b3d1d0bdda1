"""Sending an SMS or an e-mail from any package without importing the one that owns the senders.

The control plane registers its senders (the outbox, a real SMS gateway, SMTP) at start; the tenant CRM
sends through ``send`` (a set-password link to a new user, later customer notices), and every message is
recorded in the control plane's outbox with its delivery status, as the control plane's own are."""

SENDERS = {}  # channel ("sms", "email") -> callable(to, body, subject=None, purpose=None, secrets=())


def register(channel, sender):
    SENDERS[channel] = sender


def send(channel, to, body, subject=None, purpose=None, secrets=()):
    """Send one message; ``secrets`` are masked in what is recorded. Raises ``LookupError`` when no
    sender is registered for the channel (a configuration error, never silently dropped)."""
    try:
        sender = SENDERS[channel]
    except KeyError:
        raise LookupError(f"no sender registered for channel {channel!r}") from None
    return sender(to, body, subject=subject, purpose=purpose, secrets=secrets)
