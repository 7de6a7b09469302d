"""The one envelope rule, the frozen record base and the one-line file errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from virnucpro.bench.records import Envelope, Record, SchemaError, read_json_file

ENVELOPE = Envelope("thing-kind", "thing_version", (1, 2), "thing file")


class Thing(Record):
    kind: str
    thing_version: int
    size: int


def test_a_file_of_this_kind_and_a_known_version_reads() -> None:
    data = {"kind": "thing-kind", "thing_version": 2, "size": 3}
    assert ENVELOPE.parse(Thing, data, source="t.json") == Thing(**data)


def test_a_missing_kind_reads_as_this_format() -> None:
    thing = ENVELOPE.parse(Thing, {"thing_version": 1, "size": 3}, source="t.json")
    assert thing.kind == "thing-kind"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "t.json: not a thing file (top level is not an object)"),
        ({}, "t.json: not a thing file (no kind, no thing_version)"),
        ({"kind": "other", "thing_version": 1}, "t.json: not a thing file (kind='other')"),
        ({"kind": "thing-kind"}, "t.json: thing_version None is not supported (expected 1-2)"),
        ({"thing_version": 3}, "t.json: thing_version 3 is not supported (expected 1-2)"),
        ({"thing_version": True}, "t.json: thing_version True is not supported (expected 1-2)"),
        ({"thing_version": "1"}, "t.json: thing_version '1' is not supported (expected 1-2)"),
        ({"thing_version": 1}, "t.json: invalid thing file: size: Field required"),
    ],
)
def test_what_is_refused_is_said_in_one_line(data: object, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        ENVELOPE.parse(Thing, data, source="t.json")
    assert str(info.value) == message


def test_one_version_is_named_alone() -> None:
    single = Envelope("k", "v", (1,), "entry")
    with pytest.raises(SchemaError, match=r"not an entry \(kind='x'\)"):
        single.check({"kind": "x", "v": 1}, source="s")
    with pytest.raises(SchemaError, match=r"v 2 is not supported \(expected 1\)$"):
        single.check({"v": 2}, source="s")


def test_records_are_frozen_and_refuse_unknown_fields() -> None:
    thing = Thing(kind="k", thing_version=1, size=1)
    with pytest.raises(ValidationError):
        thing.size = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Thing(kind="k", thing_version=1, size=1, colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"{oops", r"not valid JSON \(line 1\)"),
        (b"\xff\xfe", "cannot read"),
    ],
)
def test_reading_json_fails_in_one_line(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "f.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SchemaError, match=message) as info:
        read_json_file(path)
    assert "\n" not in str(info.value)
