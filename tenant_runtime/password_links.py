"""Single-use, expiring links that let a user choose a password: the first administrator's today, an
administrator resetting a user's password tomorrow. No password ever travels in a message.

Only the SHA-256 of a link's token is stored, in the tenant's own database. Issuing a link burns the
user's earlier unused ones; using one sets the password, burns the link and signs the user out
everywhere else, in one transaction.
"""

import secrets

from sqlalchemy import insert, select, update

from . import auth
from .models import SysPasswordToken, SysUser, utcnow

PURPOSES = ("first_login", "reset")
_links = SysPasswordToken.__table__


def issue(db, user_id, purpose, ttl):
    """A new link token for ``user_id``, valid for ``ttl``. ``db`` is a Session or a Connection on the
    tenant database (provisioning has only a connection); the caller commits."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    now, raw = utcnow(), secrets.token_urlsafe(32)
    db.execute(update(_links).where(_links.c.user_id == user_id, _links.c.used_at.is_(None)).values(used_at=now))
    db.execute(insert(_links).values(user_id=user_id, token_hash=auth.hash_token(raw), purpose=purpose,
                                     created_at=now, expires_at=now + ttl))
    return raw


def has_live_link(db, user_id):
    """Whether ``user_id`` holds a link that still works (provisioning then sends no new one)."""
    return db.execute(select(_links.c.id).where(_links.c.user_id == user_id, _links.c.used_at.is_(None),
                                                _links.c.expires_at > utcnow()).limit(1)).first() is not None


def find(session, raw):
    """The unused, unexpired link of an enabled user that ``raw`` is, or None."""
    if not isinstance(raw, str) or not raw or len(raw) > 200:
        return None
    link = session.scalar(select(SysPasswordToken).join(SysUser)
                          .where(SysPasswordToken.token_hash == auth.hash_token(raw),
                                 SysPasswordToken.used_at.is_(None), SysPasswordToken.expires_at > utcnow()))
    return link if link is not None and link.user.is_enabled else None


def redeem(session, raw, new_password):
    """Set the password through the link ``raw``; the user, or None when the link does not work (also
    for the loser of two simultaneous uses: the link is claimed by a conditional update)."""
    link = find(session, raw)
    if link is None:
        return None
    claimed = session.execute(update(_links).where(_links.c.id == link.id, _links.c.used_at.is_(None))
                              .values(used_at=utcnow())).rowcount
    if claimed != 1:
        session.rollback()
        return None
    auth.set_password(link.user, new_password)
    return link.user
