"""What commands and events have in common: a fixed list of read-only fields.

Each command and event is a small native class (compiled: its fields are slots of the C
struct, read and written without a lookup) whose constructor takes the fields in order.
`Message` gives them what the services, the wire and the tests use of a tuple: iteration
over the fields in order (the wire's arrays, a snapshot's lists), equality, a hash, a
readable repr, and `replace` for a copy with some fields changed.
"""

from collections.abc import Iterator
from typing import Any, ClassVar, TypeVar

from mypy_extensions import mypyc_attr

M = TypeVar("M", bound="Message")


@mypyc_attr(acyclic=True)  # a message refers to no object that could refer back to it
class Message:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()  # the fields, in the constructor's order

    def __iter__(self) -> Iterator[Any]:
        return iter([getattr(self, name) for name in type(self)._fields])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and list(self) == list(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self)._fields)
        return f"{type(self).__name__}({fields})"

    def replace(self: M, **changes: Any) -> M:
        """Return a copy with the fields named in `changes` set to their values."""
        values = [changes.pop(name, getattr(self, name)) for name in type(self)._fields]
        if changes:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(changes)}")
        return type(self)(*values)
