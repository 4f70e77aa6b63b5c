"""xlhedge's worksheet functions as a pycel plugin: pycel looks functions up by lower-case name
and passes ranges as tuples of tuples."""

from typing import Any

from xlhedge import udfs

NAMES = [name for name in dir(udfs) if name.isupper() and callable(getattr(udfs, name))]


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, tuple) else value


def _plugin(func: Any) -> Any:
    def call(*args: Any) -> Any:
        out = func(*(_lists(a) for a in args))
        return tuple(tuple(row) for row in out) if isinstance(out, list) else out

    return call


for _name in NAMES:
    globals()[_name.lower()] = _plugin(getattr(udfs, _name))
