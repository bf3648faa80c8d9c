"""``natsrs.Headers``: a received message's headers as the ``dict`` nats-py gives."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Headers"]


class Headers(dict[str, str]):
    """A received message's headers: a ``dict`` of each name's first value.

    It is what nats-py's ``msg.headers`` is (a ``dict``: ``==``, ``copy()``,
    ``json.dumps`` and ``isinstance(h, dict)`` work), and NATS headers may repeat a name:
    ``get_all(name)`` gives every value in order, ``to_dict()`` all of them by name.
    Publishing a ``Headers`` sends every value. Names are case-sensitive.
    """

    __slots__ = ("_repeated",)

    def __init__(self, *args: object, **kwargs: str) -> None:
        super().__init__(*args, **kwargs)
        # Names that carried more than one value, with all of them.
        self._repeated: dict[str, list[str]] = {}

    @classmethod
    def _from_entries(cls, entries: Iterable[tuple[str, list[str]]]) -> Headers:
        headers = cls()
        for name, values in entries:
            headers[name] = values[0]
            if len(values) > 1:
                headers._repeated[name] = values
        return headers

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order (empty when absent)."""
        if name not in self:
            return []
        repeated = self._repeated.get(name)
        # A name set again through the dict has the one value it was given.
        if repeated is not None and repeated[0] == self[name]:
            return list(repeated)
        return [self[name]]

    def to_dict(self) -> dict[str, list[str]]:
        """Every value of every name."""
        return {name: self.get_all(name) for name in self}

    def copy(self) -> Headers:
        return Headers._from_entries(self.to_dict().items())

    def __repr__(self) -> str:
        return f"Headers({super().__repr__()})"
