"""Data scope: which records the current user may see, from the widest of their roles.

One helper, ``Principal.visible(query, resource)``, is used by every list, detail, count, export and
dashboard query of business rows; templates never filter. Scopes as Chinese admin systems define them:
all, custom departments, own department, own department and below, only own. Several roles combine as
their union (the widest), and a user always sees the records they own.
"""

from dataclasses import dataclass, field

from flask import g
from sqlalchemy import and_, false, or_, select, true

from ..models import SysDept
from ..people.models import SCOPE_ALL, SCOPE_CUSTOM, SCOPE_DEPT, SCOPE_DEPT_TREE

MAX_SCOPE_BRANCHES = 40  # beyond this many departments a list filters by the OR (one statement, sorted)


DEPT_TREE = select(SysDept.id, SysDept.parent_id)  # built once: its cache key is computed once (auth.TOKEN_LOOKUP)


def dept_children(session):
    """``{dept_id: [child ids]}`` for the whole tree (a tenant has tens of departments, not thousands)."""
    children = {}
    for dept_id, parent_id in session.execute(DEPT_TREE):
        children.setdefault(parent_id, []).append(dept_id)
    return children


def subtree(children, root):
    """``root`` and every department below it."""
    out, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node in out:
            continue
        out.add(node)
        stack.extend(children.get(node, ()))
    return out


@dataclass(frozen=True)
class Principal:
    user_id: int
    dept_id: int
    permissions: frozenset
    sees_all: bool
    dept_ids: frozenset  # departments whose records are visible (beyond the user's own records)
    # the department tree as principal_for read it ({parent: [children]}), so a request reads it once
    children: dict | None = field(default=None, compare=False, hash=False, repr=False)

    def can(self, permission):
        return permission in self.permissions

    def scope_clause(self, owner_col, dept_col):
        """The WHERE clause of everything this user may see, for a table with an owner and a department."""
        if self.sees_all:
            return true()
        conditions = [owner_col == self.user_id]
        if self.dept_ids:
            conditions.append(dept_col.in_(sorted(self.dept_ids)))
        return or_(*conditions) if len(conditions) > 1 else conditions[0]

    def scope_branches(self, owner_col, dept_col):
        """``scope_clause`` as disjoint conditions whose union it is: one per visible department, and the
        user's own records outside them; None when it is a single condition or there are too many
        departments. A list ordered by id reads each branch's first rows through its own (owner or
        department, deleted_at, ..., id) index and merges them, and a capped count adds up capped counts,
        where the OR would read every visible row of every department and sort or merge them."""
        if self.sees_all or not self.dept_ids or len(self.dept_ids) >= MAX_SCOPE_BRANCHES:
            return None
        depts = sorted(self.dept_ids)
        own_elsewhere = and_(owner_col == self.user_id, or_(dept_col.is_(None), dept_col.not_in(depts)))
        return [dept_col == dept_id for dept_id in depts] + [own_elsewhere]

    def sees(self, owner_id, dept_id):
        """The same rule for one loaded record."""
        return self.sees_all or owner_id == self.user_id or (dept_id is not None and dept_id in self.dept_ids)

    def subordinate_dept_ids(self, session):
        """Own department and below (下属), as far as the scope lets the user see them."""
        children = self.children if self.children is not None else dept_children(session)
        tree = subtree(children, self.dept_id)
        return tree if self.sees_all else tree & self.dept_ids

    @property
    def sees_only_own(self):
        return not self.sees_all and not self.dept_ids

    def none(self):
        return false()


def principal_for(user, session):
    """Build the user's permissions and data scope (union over roles)."""
    permissions, sees_all, dept_ids = set(), False, set()
    children = None
    for role in user.roles:
        permissions |= role.permission_set
        scope = role.data_scope
        if scope == SCOPE_ALL:
            sees_all = True
        elif scope == SCOPE_CUSTOM:
            dept_ids |= role.dept_ids
        elif scope == SCOPE_DEPT:
            dept_ids.add(user.dept_id)
        elif scope == SCOPE_DEPT_TREE:
            children = children if children is not None else dept_children(session)
            dept_ids |= subtree(children, user.dept_id)
    return Principal(user_id=user.id, dept_id=user.dept_id, permissions=frozenset(permissions), sees_all=sees_all,
                     dept_ids=frozenset(dept_ids), children=children)


def current_principal():
    """The signed-in tenant user's principal, built once per request."""
    principal = g.get("tenant_principal")
    if principal is None:
        from ..context import current_tenant

        principal = g.tenant_principal = principal_for(g.tenant_user, current_tenant.session)
    return principal
