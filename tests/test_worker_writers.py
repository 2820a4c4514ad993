"""Export writers and CSV flattening: pure logic, on real files (the local export storage;
tests/test_export_storage.py runs the same writers against object storage)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from jobs.layout import SAFE_NAME, file_name
from jobs.storage import FileCheckpoint, ResumeImpossible
from jobs.storage.local import LocalStorage
from worker.csv_columns import ISSUE_COLUMNS, cell, generic_columns
from worker.writers import CsvWriter, JsonArrayWriter, NdjsonWriter

JOB = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"value": "Open", "timestamp": "2025-01-01 00:00:00"}, "Open"),
        ({"value": "2000-01-01 00:00:00", "timestamp": "2000-01-01 00:00:00"}, ""),
        ({"value": [], "timestamp": "2000-01-01 00:00:00"}, ""),
        ({"value": None, "timestamp": "2000-01-01 00:00:00"}, ""),
        ({"value": "2026-11-30 17:23:26", "timestamp": "t"}, "2026-11-30T17:23:26Z"),
        ("2025-02-03 04:05:06", "2025-02-03T04:05:06Z"),
        ("2025-02-03", "2025-02-03"),  # a bare date (a licence's `expires`) stays a date
        ("meet at 2025-02-03 04:05:06", "meet at 2025-02-03 04:05:06"),
        ({"value": ["a@x.com", "b@x.com"], "timestamp": "t"}, "a@x.com;b@x.com"),
        (
            {"value": {"uuid": "u", "name": "A-101"}, "timestamp": "t"},
            '{"name":"A-101","uuid":"u"}',
        ),
        ({"value": [{"b": 1}], "timestamp": "t"}, '[{"b":1}]'),
        ({"value": True, "timestamp": "t"}, "true"),
        ({"value": 1.25, "timestamp": "t"}, "1.25"),
        (7, "7"),
        ("plain", "plain"),
        ('=HYPERLINK("http://x.example","click")', '\'=HYPERLINK("http://x.example","click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("@SUM(1)", "'@SUM(1)"),
        ("-2+3", "'-2+3"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ({"value": "=1+1", "timestamp": "t"}, "'=1+1"),
        (-2, "-2"),  # a number is a number
        (["=a", "b"], "'=a;b"),
        ({"not": "a pair"}, '{"not":"a pair"}'),
    ],
)
def test_cells_follow_the_documented_rules(value: Any, expected: str) -> None:
    assert cell(value) == expected


def test_csv_survives_commas_quotes_newlines_and_unicode(tmp_path: Path) -> None:
    issues = [
        {
            "id": 1,
            "uuid": "u1",
            "title": {"value": 'Pipe clash, "level 2"\nsee markup', "timestamp": "t"},
        },
        {"id": 2, "uuid": "u2", "title": {"value": "Façade — Ünïcode ✓", "timestamp": "t"}},
        {"id": 3, "uuid": "u3"},  # keys come and go between Revizto versions
    ]
    upload = LocalStorage(tmp_path).upload(JOB, "issues.csv", owner="t")
    with CsvWriter(upload, columns=ISSUE_COLUMNS, prefix={"projectUuid": "p"}) as writer:
        for issue in issues:
            writer.write(issue)
        written = writer.commit()
    raw = (tmp_path / JOB / "issues.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel's cue that the file is UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0][:4] == ["projectUuid", "id", "uuid", "title"]
    assert [r[3] for r in rows[1:]] == [
        'Pipe clash, "level 2"\nsee markup',
        "Façade — Ünïcode ✓",
        "",
    ]
    assert len({len(r) for r in rows}) == 1
    assert written.records == 3
    assert written.sha256 == hashlib.sha256(raw).hexdigest()
    assert written.size == len(raw)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_json_arrays_are_valid_whatever_the_count(tmp_path: Path, count: int) -> None:
    with JsonArrayWriter(LocalStorage(tmp_path).upload(JOB, "x.json", owner="t")) as writer:
        for index in range(count):
            writer.write({"i": index, "s": "é"})
        writer.commit()
    assert json.loads((tmp_path / JOB / "x.json").read_text()) == [
        {"i": i, "s": "é"} for i in range(count)
    ]


def test_a_writer_left_by_an_error_leaves_no_file(tmp_path: Path) -> None:
    def crash_mid_export() -> None:
        with NdjsonWriter(LocalStorage(tmp_path).upload(JOB, "issues.ndjson", owner="t")) as w:
            w.write({"id": 1})
            raise RuntimeError("the export crashed")

    with pytest.raises(RuntimeError):
        crash_mid_export()
    assert list((tmp_path / JOB).iterdir()) == []


def test_nothing_is_visible_under_the_final_name_until_commit(tmp_path: Path) -> None:
    upload = LocalStorage(tmp_path).upload(JOB, "issues.ndjson", owner="t")
    with NdjsonWriter(upload) as writer:
        writer.write({"id": 1})
        assert not (tmp_path / JOB / "issues.ndjson").exists()
        assert upload.temp_path.name.startswith(".")
        writer.commit()
    assert (tmp_path / JOB / "issues.ndjson").read_text() == '{"id":1}\n'


def test_generic_columns_are_the_union_of_keys_in_first_seen_order() -> None:
    names = [name for name, _ in generic_columns([{"a": 1, "b": 2}, {"c": 3, "a": 4}])]
    assert names == ["a", "b", "c"]


def test_file_names_are_the_only_names_the_api_serves() -> None:
    for name in (
        file_name("issues", "ndjson", "2e09e63a-7a8a-4eee-b193-56a3175d2b12"),
        file_name("license_members", "csv", "0775DA341B5144D890380691A84802D4"),
        file_name("licenses", "json"),
    ):
        assert SAFE_NAME.fullmatch(name), name
    for bad in ("../issues.ndjson", ".issues.ndjson.t.partial", "issues.ndjson/..", "a/b.csv"):
        assert not SAFE_NAME.fullmatch(bad)


@pytest.mark.parametrize("writer_class", [NdjsonWriter, JsonArrayWriter, "csv"])
def test_a_writer_resumed_from_a_checkpoint_writes_the_same_file_as_one_that_never_stopped(
    tmp_path: Path, writer_class: Any
) -> None:
    records = [{"id": n, "title": {"value": f"issue {n}", "timestamp": "t"}} for n in range(1, 8)]

    def open_writer(directory: Path, owner: str, resume: FileCheckpoint | None = None) -> Any:
        storage = LocalStorage(directory)
        if writer_class == "csv":
            columns = [("id", lambda r: r["id"]), ("title", lambda r: r["title"])]
            upload = storage.upload(JOB, "x.csv", owner=owner, resume=resume)
            return CsvWriter(upload, columns=columns)
        return writer_class(storage.upload(JOB, "x.ndjson", owner=owner, resume=resume))

    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    straight_dir.mkdir()
    resumed_dir.mkdir()
    straight = open_writer(straight_dir, "a")
    for record in records:
        straight.write(record)
    expected = straight.commit()

    crashed = open_writer(resumed_dir, "dead")
    for record in records[:4]:
        crashed.write(record)
    checkpoint = crashed.checkpoint()
    crashed.write(records[4])  # written after the checkpoint: must not survive
    crashed.checkpoint()  # flushed to disk, as a killed process's file would be
    resumed = open_writer(resumed_dir, "next", resume=checkpoint)
    assert resumed.records == 4
    for record in records[4:]:
        resumed.write(record)
    written = resumed.commit()
    assert (written.sha256, written.size, written.records) == (
        expected.sha256,
        expected.size,
        expected.records,
    )


def test_a_checkpoint_whose_file_is_gone_or_short_cannot_be_resumed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    writer = NdjsonWriter(storage.upload(JOB, "x.ndjson", owner="dead"))
    writer.write({"a": 1})
    checkpoint = writer.checkpoint()
    longer = FileCheckpoint(checkpoint.temp_name, checkpoint.offset + 10, 2)
    with pytest.raises(ResumeImpossible):
        storage.upload(JOB, "x.ndjson", owner="next", resume=longer)
    writer.discard()
    with pytest.raises(ResumeImpossible):
        storage.upload(JOB, "x.ndjson", owner="next", resume=checkpoint)
    assert not list((tmp_path / JOB).glob("*.next.partial"))
