"""Small slotted records with what a dataclass generates (repr, ==, hash, immutability),
written once here instead of per class.

Start-up pays for every dataclass: importing :mod:`dataclasses` pulls in :mod:`inspect`
(~30 M instructions) and each frozen slotted class costs ~4 M more to create (its methods
are compiled from generated source). The internal records on the load path (.BTF.ext
records, CO-RE results, SEC() rows, ELF symbols) use these bases instead; each subclass
lists its fields in ``__slots__`` (in order) and writes its ``__init__``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_set = object.__setattr__


class Record:
    """A mutable record: fields are ``__slots__``; ``==`` compares them (unhashable)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.__match_args__ = tuple(cls.__dict__.get("__slots__", ()))

    def _astuple(self) -> tuple:
        return tuple([getattr(self, n) for n in self.__slots__])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._astuple() == other._astuple()  # type: ignore[attr-defined]
        return NotImplemented

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple:
        return _rebuild, (type(self), self._astuple())

    def _replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` applied (as ``dataclasses.replace``)."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return _rebuild(type(self), tuple([changes[n] if n in changes else getattr(self, n)
                                           for n in self.__slots__]))


class Frozen(Record):
    """An immutable, hashable record (a frozen dataclass): ``__init__`` sets fields with
    ``object.__setattr__``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __hash__(self) -> int:
        return hash(self._astuple())


class Factory:
    """A default made fresh for each instance (a dataclass ``default_factory``)."""

    __slots__ = ("make",)

    def __init__(self, make: Any) -> None:
        self.make = make

    def __repr__(self) -> str:
        return f"<factory {self.make.__name__}>"


NEW_DICT, NEW_LIST = Factory(dict), Factory(list)


class _DataclassMeta(type):
    """Gives a record's class the dataclass metadata (``__dataclass_fields__``,
    ``__dataclass_params__``) when something first asks for it, e.g. ``dataclasses.replace``
    or ``fields``: :mod:`dataclasses` is imported then, not at start-up."""

    def __getattr__(cls, name: str) -> Any:
        if name in ("__dataclass_fields__", "__dataclass_params__"):
            _materialize(cls)
            return type.__getattribute__(cls, name)
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


class DataRecord(Record, metaclass=_DataclassMeta):
    """A mutable record that is also a dataclass to :mod:`dataclasses` (``replace``,
    ``fields``, ``asdict``, ``is_dataclass``): the fields are the class annotations in
    order, their defaults those of ``__init__`` (a :class:`Factory` default is a
    ``default_factory``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name in ("__dataclass_fields__", "__dataclass_params__"):
            return getattr(type(self), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class FrozenDataRecord(Frozen, DataRecord):
    """An immutable :class:`DataRecord` (a frozen dataclass to :mod:`dataclasses`)."""

    __slots__ = ()


def _materialize(cls: type) -> None:
    """Build the dataclass metadata of ``cls`` from a shadow dataclass with its fields."""
    import dataclasses
    import inspect
    ns: dict[str, Any] = {"__annotations__": dict(cls.__annotations__),
                          "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.default is not p.empty:
            ns[p.name] = (dataclasses.field(default_factory=p.default.make)
                          if isinstance(p.default, Factory) else p.default)
    shadow = dataclasses.dataclass(frozen=issubclass(cls, Frozen))(type(cls.__name__, (), ns))
    type.__setattr__(cls, "__dataclass_fields__", shadow.__dataclass_fields__)
    type.__setattr__(cls, "__dataclass_params__", shadow.__dataclass_params__)


def _rebuild(cls: type, values: tuple) -> Any:
    obj = object.__new__(cls)
    for n, v in zip(cls.__slots__, values, strict=True):  # type: ignore[attr-defined]
        _set(obj, n, v)
    return obj


try:    # 3.11+: the stdlib's constructor for large enums (re, http and ssl use it): the same
    # classes and members as a class statement, built in about half the time
    from enum import _simple_enum as simple_enum  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    def simple_enum(etype: type) -> Any:  # type: ignore[no-redef]
        """``@simple_enum(IntEnum)`` over a plain class of int constants."""
        def make(cls: type) -> Any:
            members = {k: v for k, v in vars(cls).items() if not k.startswith("_")}
            e = etype(cls.__name__, members, module=cls.__module__,  # type: ignore[call-arg]
                      qualname=cls.__qualname__)
            e.__doc__ = cls.__doc__
            return e
        return make
