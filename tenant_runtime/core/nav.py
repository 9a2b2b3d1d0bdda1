"""The CRM's left navigation: modules add their entries; each shows only to users with its permission."""

from dataclasses import dataclass

from flask import request


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    permission: str | None  # None: every signed-in user
    group: object = None  # heading the entry sits under (None: the top, like 工作台)
    prefix: str | None = None  # endpoints starting with this light the entry up (tenant.customers_)
    order: int = 100


NAV: list[NavItem] = []


def add_nav(item):
    NAV[:] = sorted([n for n in NAV if n.endpoint != item.endpoint] + [item], key=lambda n: n.order)


def nav_for(principal):
    """``[(group, [entries])]`` in order, each entry with ``active`` for the current page."""
    groups, current = [], request.endpoint or ""
    for item in NAV:
        if item.permission and not principal.can(item.permission):
            continue
        active = current == item.endpoint or bool(item.prefix and current.startswith(item.prefix))
        entry = {"endpoint": item.endpoint, "label": item.label, "active": active}
        if groups and groups[-1][0] == item.group:
            groups[-1][1].append(entry)
        else:
            groups.append((item.group, [entry]))
    return groups
