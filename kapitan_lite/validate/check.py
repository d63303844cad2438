"""Validating one object against its schema: fast when it is valid, precise when it is not.

Each schema gets one :class:`Validator`, built when first needed and kept
for the run. Most objects are valid, so a validator first runs the schema
compiled to Python by ``fastjsonschema`` (when installed): a pass there is
the answer. Only an object it rejects goes through ``jsonschema``, the
reference implementation, whose errors (every one of them, with their
paths) are what is reported; should the two ever disagree, ``jsonschema``
is trusted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .schemas import Schema


@dataclass(frozen=True, order=True)
class Violation:
    """One way an object breaks its schema: where (its path in the object) and what."""

    path: tuple[str | int, ...]
    message: str


def dotted(path: tuple[str | int, ...]) -> str:
    """``('spec', 'ports', 0, 'port')`` -> ``spec.ports[0].port``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Validator:
    """The validators of one schema: the fast one, and ``jsonschema``'s for the errors."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self._fast: Any = None
        self._full: Any = None
        try:
            import fastjsonschema

            # No formats (jsonschema asserts none by default) and no defaults
            # (they would be written into the object).
            self._fast = fastjsonschema.compile(schema.body, use_default=False, use_formats=False,
                                                detailed_exceptions=False)
            self._fast_error: type[Exception] = fastjsonschema.JsonSchemaException
        except ImportError:
            pass
        except Exception:  # a schema fastjsonschema can't compile: jsonschema alone will do
            self._fast = None

    def _reference(self) -> Any:
        if self._full is None:
            import jsonschema

            cls = jsonschema.validators.validator_for(self.schema.body,
                                                      default=jsonschema.Draft202012Validator)
            self._full = cls(self.schema.body)
        return self._full

    def fast_verdict(self, obj: Any) -> bool | None:
        """Whether the fast validator passes ``obj`` (``None``: there is none for this schema)."""
        if self._fast is None:
            return None
        try:
            self._fast(obj)
            return True
        except (self._fast_error, RecursionError):
            return False

    def violations(self, obj: Any) -> list[Violation]:
        """Every way ``obj`` breaks the schema, sorted; ``[]`` when it is valid."""
        if self.fast_verdict(obj):
            return []
        return sorted(set(_explain(self._reference().iter_errors(obj))))


def _explain(errors: Iterator[Any]) -> Iterator[Violation]:
    """jsonschema's errors as violations; an unknown field is named at its own path."""
    for err in errors:
        path = tuple(err.absolute_path)
        if (err.validator == "additionalProperties" and isinstance(err.instance, dict)
                and "patternProperties" not in err.schema):
            known = set(err.schema.get("properties") or {})
            extra = sorted(k for k in err.instance if k not in known)
            if err.validator_value is False and extra:
                for key in extra:
                    yield Violation((*path, key), "unknown field (--no-strict allows it)")
                continue
        if err.validator == "type" and isinstance(err.validator_value, list) \
                and "null" in err.validator_value and len(err.validator_value) > 1:
            # Kubernetes' schemas let every field be null: name the type that was meant.
            types = " or ".join(repr(t) for t in err.validator_value if t != "null")
            yield Violation(path, f"{err.instance!r} is not of type {types}")
            continue
        yield Violation(path, " ".join(err.message.split()))
