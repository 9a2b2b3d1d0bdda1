"""Columns of an HTML list, declared with the resource: what to show and how (the list template renders
each kind one way, so every CRM list looks and reads the same)."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    key: str  # attribute of the row (dotted for a relation: "owner.full_name")
    label: object
    kind: str = "text"  # text link badge time date phone tags bool
    labels: dict = field(default_factory=dict)  # value -> label for badges
    badge_kinds: dict = field(default_factory=dict)  # value -> badge colour
    sort: str | None = None  # the listing's sort key, when the header may sort by it

    def value(self, row):
        value = row
        for part in self.key.split("."):
            value = getattr(value, part, None) if value is not None else None
        return value
