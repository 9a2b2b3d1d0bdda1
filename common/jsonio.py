"""JSON bodies read with a bound on their nesting: what no form of this API takes cannot cost a 500.

Python's parser gives up on about a thousand levels with a RecursionError, which Flask does not take for a bad
body (it catches ValueError), and anything walking a body a few levels short of that runs out of stack. A body
nested deeper than ``MAX_DEPTH`` is not valid input here: ``loads`` raises ValueError, so ``get_json`` answers
400 (or, ``silent``, None) as for any other body that is not JSON."""

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32  # the deepest body any endpoint takes is 3 (a rule's conditions)


def depth(value):
    """How deeply ``value``'s lists and objects nest (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


class BoundedJSONProvider(DefaultJSONProvider):
    sort_keys = False  # answers keep their schema's field order (2 % of a 50-row list's instructions)

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if depth(value) > MAX_DEPTH:
            raise ValueError("JSON nested too deeply")
        return value
