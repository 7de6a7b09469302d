"""What every stored benchmark file shares: the frozen record base, the kind-and-version
envelope, and reading JSON with one-line errors.

Torch-free, so that ``tools/bench`` may import it (``tests/test_layering.py``). The results
document, the A/B pairs, the report, the baseline, the history and the suites' config file
each name one :class:`Envelope`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from virnucpro.errors import InputError


class SchemaError(InputError):
    """A stored file that is malformed, of another kind or of a version this code does not read."""


class Record(BaseModel):
    """The base of every stored record: immutable, and no field it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")


R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Envelope:
    """A stored format's ``kind`` and its version field, and the versions this code reads.

    The one rule, for every format: a ``kind`` that is present must be this format's; a
    missing ``kind`` reads as this format's (files without one were read before, and still
    are), but a file with neither kind nor version field is not this format; the version field
    must be one of ``versions``. ``noun`` names the format in errors.
    """

    kind: str
    version_field: str
    versions: tuple[int, ...]
    noun: str

    @property
    def _a_noun(self) -> str:
        return f"{'an' if self.noun[0] in 'aeiouAEIOU' else 'a'} {self.noun}"

    def _expected(self) -> str:
        first, last = min(self.versions), max(self.versions)
        return str(first) if first == last else f"{first}-{last}"

    def names(self, data: object) -> bool:
        """Whether ``data`` says it is of this format: by its kind, or, kind-less, by holding
        this format's version field (what a reader of several formats dispatches on)."""
        if not isinstance(data, dict):
            return False
        return data["kind"] == self.kind if "kind" in data else self.version_field in data

    def check(self, data: object, *, source: str) -> dict[str, object]:
        """``data`` with its kind filled in, once kind and version are this format's."""
        if not isinstance(data, dict):
            raise SchemaError(f"{source}: not {self._a_noun} (top level is not an object)")
        if "kind" not in data and self.version_field not in data:
            raise SchemaError(f"{source}: not {self._a_noun} (no kind, no {self.version_field})")
        kind = data.get("kind", self.kind)
        if kind != self.kind:
            raise SchemaError(f"{source}: not {self._a_noun} (kind={kind!r})")
        version = data.get(self.version_field)
        if type(version) is not int or version not in self.versions:
            raise SchemaError(
                f"{source}: {self.version_field} {version!r} is not supported "
                f"(expected {self._expected()})"
            )
        return {**data, "kind": self.kind}

    def validate(self, model: type[R], data: dict[str, object], *, source: str) -> R:
        """``data`` (already checked) as ``model``; a validation error is one line."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            line = first_error_line(exc, whole=f"<{self.noun}>")
            raise SchemaError(f"{source}: invalid {self.noun}: {line}") from None

    def parse(self, model: type[R], data: object, *, source: str) -> R:
        """Check the envelope of ``data``, then validate it as ``model``."""
        return self.validate(model, self.check(data, source=source), source=source)


def first_error_line(exc: ValidationError, *, whole: str = "<document>") -> str:
    """The first validation error as one line, ``<field path>: <message>`` (``whole`` when the
    error is about the whole record)."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or whole
    return f"{loc}: {err.get('msg', 'invalid')}"


def read_text_file(path: Path) -> str:
    """A file's text; a missing or unreadable file is a one-line :class:`SchemaError`."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read ({exc.__class__.__name__})") from None


def read_json_file(path: Path) -> object:
    """A decoded JSON file; any problem is a one-line :class:`SchemaError`."""
    text = read_text_file(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path}: not valid JSON (line {exc.lineno})") from None
