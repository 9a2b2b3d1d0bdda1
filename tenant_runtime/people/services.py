"""Rules for departments, roles and users: a tree without cycles, nothing removed that is still in use,
and a company that always keeps an enabled administrator."""

from flask_babel import gettext as _
from flask_babel import ngettext, npgettext
from sqlalchemy import func, select

from common.errors import Conflict, Invalid
from common.i18n import list_join

from ..context import current_tenant
from ..core.scope import dept_children, subtree
from ..customers.models import CrmCustomer
from ..models import USER_STATUS_DISABLED, USER_STATUS_ENABLED, SysDept, SysUser
from .models import SCOPE_CUSTOM, SysRole, SysRoleDept, SysUserRole
from .roles import ADMIN

# ---------------------------------------------------------------------- departments


def dept_choices(session=None, exclude=None):
    """``[(id, "indented name")]`` in tree order (a department and its subtree excluded, for moves)."""
    session = session or current_tenant.session
    rows = session.execute(select(SysDept.id, SysDept.dept_name, SysDept.parent_id)
                           .order_by(SysDept.sort, SysDept.id)).all()
    children, names = {}, {}
    for dept_id, name, parent in rows:
        children.setdefault(parent, []).append(dept_id)
        names[dept_id] = name
    skip = subtree(children, exclude) if exclude else set()
    out = []

    def walk(parent, depth):
        for dept_id in children.get(parent, []):
            if dept_id in skip:
                continue
            out.append((dept_id, ("　" * depth) + names[dept_id]))
            walk(dept_id, depth + 1)

    walk(None, 0)
    return out


def dept_tree():
    """``[(dept, depth, people)]`` in tree order, for the departments page."""
    session = current_tenant.session
    depts = {d.id: d for d in session.scalars(select(SysDept))}
    people = dict(session.execute(select(SysUser.dept_id, func.count()).group_by(SysUser.dept_id)).all())
    return [(depts[dept_id], label.count("　"), people.get(dept_id, 0)) for dept_id, label in dept_choices(session)]


def _parent(parent_id, dept=None):
    if parent_id in (None, ""):
        return None
    parent = current_tenant.session.get(SysDept, int(parent_id))
    if parent is None:
        raise Invalid({"parent_id": [_("Choose an existing department.")]})
    if dept is not None and parent.id in subtree(dept_children(current_tenant.session), dept.id):
        raise Invalid({"parent_id": [_("A department cannot move under itself or one of its own departments.")]})
    return parent.id


def create_dept(name, parent_id, sort):
    """A new department; without an order, after its siblings (with 0 it came before every one of them)."""
    parent = _parent(parent_id) or _root().id
    if sort is None:
        last = current_tenant.session.scalar(select(func.max(SysDept.sort)).where(SysDept.parent_id == parent))
        sort = min((last or 0) + 1, 9999)
    _name_free(name, parent)
    dept = SysDept(dept_name=name, parent_id=parent, sort=sort)
    current_tenant.session.add(dept)
    return dept


def _name_free(name, parent_id, dept=None):
    """Two departments under one parent never share a name: pickers, lists and exports name them by it.
    Compared as the database compares (MariaDB ignores case there), so this refuses what the constraint would."""
    if parent_id is None:
        return
    query = select(SysDept.id).where(SysDept.parent_id == parent_id, SysDept.dept_name == name)
    if dept is not None and dept.id is not None:
        query = query.where(SysDept.id != dept.id)
    if current_tenant.session.scalar(query.limit(1)) is not None:
        message = _("%(parent)s already has a department named %(name)s.",
                    parent=current_tenant.session.get(SysDept, parent_id).dept_name, name=name)
        raise Conflict("duplicate", message, {"dept_name": [message]})


def update_dept(dept, name, parent_id, sort):
    """``sort`` None (the field left empty) keeps the department's place."""
    if dept.parent_id is None and parent_id:
        raise Invalid({"parent_id": [_("The company itself stays at the top.")]})
    parent = dept.parent_id if dept.parent_id is None else (_parent(parent_id, dept) or _root().id)
    with current_tenant.session.no_autoflush:
        _name_free(name, parent, dept)
    dept.dept_name = name
    if sort is not None:
        dept.sort = sort
    dept.parent_id = parent
    return dept


def _root():
    return current_tenant.session.scalar(select(SysDept).where(SysDept.parent_id.is_(None)).order_by(SysDept.id))


def delete_dept(dept):
    """Only an empty department goes: no sub-departments, no people, no customers."""
    session = current_tenant.session
    if dept.parent_id is None:
        raise Conflict("dept_in_use", _("The company itself cannot be deleted."))
    in_use = {
        "departments": session.scalar(select(func.count()).where(SysDept.parent_id == dept.id)),
        "users": session.scalar(select(func.count()).where(SysUser.dept_id == dept.id)),
        "customers": session.scalar(select(func.count()).where(CrmCustomer.dept_id == dept.id)),
    }
    in_use = {k: v for k, v in in_use.items() if v}
    if in_use:
        words = {"departments": lambda n: ngettext("%(num)d department", "%(num)d departments", n),
                 "users": lambda n: ngettext("%(num)d person", "%(num)d people", n),
                 "customers": lambda n: npgettext("held by a department", "%(num)d customer", "%(num)d customers", n)}
        held = list_join([words[k](n) for k, n in in_use.items()])
        raise Conflict("dept_in_use", _("It still holds %(what)s: move them elsewhere first.", what=held),
                       found=in_use)
    session.delete(dept)


# ---------------------------------------------------------------------- roles


def role_choices(session=None):
    from .labels import role_label

    session = session or current_tenant.session
    return [(r.id, role_label(r)) for r in session.scalars(select(SysRole).order_by(SysRole.id))]


def save_role(role, name, scope, permissions, dept_ids, remark):
    """Create (``role`` None) or change a role. The administrator role keeps every permission and all
    records, and a built-in role keeps its name: a change sent to them is a 409 naming the field (it was dropped
    while the answer said 200)."""
    from .permissions import ALL_PERMISSIONS

    session = current_tenant.session
    if role is None:
        role = SysRole(is_builtin=False)
        session.add(role)
    if role.is_builtin and name != role.role_name:
        raise Conflict("builtin_role", _("A built-in role keeps its name."),
                       {"role_name": [_("A built-in role keeps its name.")]})
    if role.code == ADMIN and (scope != "all" or not role.permission_set <= set(permissions)):
        message = _("The administrator role always has every permission and sees every record.")
        raise Conflict("builtin_role", message, {"data_scope" if scope != "all" else "permissions": [message]})
    if role.code == ADMIN:
        scope, permissions = "all", sorted(ALL_PERMISSIONS)
    if not role.is_builtin:
        role.role_name = name
    role.data_scope = scope
    role.permissions = " ".join(sorted(set(permissions)))
    role.remark = remark
    wanted = {int(d) for d in dept_ids} if scope == SCOPE_CUSTOM else set()
    if scope == SCOPE_CUSTOM and not wanted:
        raise Invalid({"dept_ids": [_("Choose at least one department.")]})
    role.depts = [d for d in role.depts if d.dept_id in wanted] + [
        SysRoleDept(dept_id=d) for d in sorted(wanted - role.dept_ids)]
    return role


def delete_role(role):
    if role.is_builtin:
        raise Conflict("builtin_role", _("A built-in role cannot be deleted."))
    holders = current_tenant.session.scalar(select(func.count()).where(SysUserRole.role_id == role.id))
    if holders:
        raise Conflict("role_in_use", ngettext("Take this role away from its %(num)d user first.",
                                               "Take this role away from its %(num)d users first.", holders),
                       found={"users": holders})
    current_tenant.session.delete(role)


# ---------------------------------------------------------------------- users


def _admins_left(excluding_user):
    """Enabled administrators other than ``excluding_user``."""
    return current_tenant.session.scalar(
        select(func.count(func.distinct(SysUser.id))).join(SysUserRole, SysUserRole.user_id == SysUser.id)
        .join(SysRole, SysRole.id == SysUserRole.role_id)
        .where(SysRole.code == ADMIN, SysUser.status == USER_STATUS_ENABLED, SysUser.id != excluding_user.id))


def _roles(role_ids):
    ids = {int(r) for r in role_ids}
    roles = current_tenant.session.scalars(select(SysRole).where(SysRole.id.in_(ids))).all() if ids else []
    if len(roles) != len(ids):
        raise Invalid({"role_ids": [_("Choose existing roles.")]})
    return roles


def _dept(dept_id):
    dept = current_tenant.session.get(SysDept, int(dept_id)) if str(dept_id or "").isdigit() else None
    if dept is None:
        raise Invalid({"dept_id": [_("Choose an existing department.")]})
    return dept


def create_user(values, role_ids):
    """A new user with no password (``NO_PASSWORD`` matches none): the caller sends a set-password link."""
    from ..auth import NO_PASSWORD

    session = current_tenant.session
    user = SysUser(username=values["username"], full_name=values["full_name"], dept_id=_dept(values["dept_id"]).id,
                   phone=values.get("phone"), email=values.get("email"), status=USER_STATUS_ENABLED,
                   password_hash=NO_PASSWORD)
    user.roles = _roles(role_ids)
    session.add(user)
    return user


def update_user(user, values, role_ids):
    """Change details, department and roles; returns whether the user moved to another department (a
    move starts a handover of the customers they own)."""
    roles = _roles(role_ids)
    was_admin = user.is_admin
    if was_admin and not any(r.code == ADMIN for r in roles) and not _admins_left(user):
        raise Conflict("last_admin", _("The company needs at least one enabled administrator."))
    moved = user.dept_id != _dept(values["dept_id"]).id
    if moved:  # a position change: the customers they own go through a handover, reviewed in the old department
        from ..handovers.services import start_automatic

        user.started_handover = start_automatic(user, "position_change", current_tenant.session.info.get("actor_id"),
                                                dept_id=user.dept_id)
    user.full_name, user.phone, user.email = values["full_name"], values.get("phone"), values.get("email")
    user.dept_id = int(values["dept_id"])
    user.roles = roles
    return moved


def set_enabled(user, enabled, by):
    if not enabled:
        if user.id == by.id:
            raise Conflict("cannot_disable_self", _("You cannot disable your own account."))
        if user.is_admin and not _admins_left(user):
            raise Conflict("last_admin", _("The company needs at least one enabled administrator."))
    if not enabled and user.is_enabled:
        from .accounts import disable

        disable(user)  # every session and token of the user ends now
        from ..handovers.services import start_automatic

        # their customers wait for a receiver the manager chooses (the page says so)
        user.started_handover = start_automatic(user, "resignation", by.id)
    user.status = USER_STATUS_ENABLED if enabled else USER_STATUS_DISABLED
    return user
