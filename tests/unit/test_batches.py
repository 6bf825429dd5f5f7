"""Batch files (contract: Batches) as rows: JSONL and CSV parsing, bad rows kept and named, whole-file refusals,
job ids and batch ids. Property-based over any bytes: a batch or an InvalidRequest, never a crash."""

import json
from typing import Any

import pytest
from avatar_pipeline.batch_items import BATCH_ITEMS, BatchItem
from avatar_pipeline.batch_rows import MAX_ROW_BYTES, MAX_ROWS
from avatar_pipeline.batches import (
    MAX_BATCH_BYTES,
    Batch,
    batch_ref,
    batch_source,
    is_batch_key,
    read_batch,
)
from avatar_pipeline.errors import InvalidRequest
from avatar_pipeline.job_ids import batch_row_job_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BUCKET = "avatar-input"
JSONL_KEY = "batches/team/Spring Lessons.jsonl"
CSV_KEY = "batches/lessons.csv"


def jsonl(*lines: Any) -> bytes:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines).encode()


def read(raw: bytes, key: str = JSONL_KEY, revision: str = "v1") -> Batch:
    return read_batch(raw, key, bucket=BUCKET, revision=revision)


def requests(batch: Batch) -> list[dict[str, Any] | None]:
    return [item.request for item in batch.items]


def only(batch: Batch) -> BatchItem:
    assert len(batch.items) == 1, batch.items
    return batch.items[0]


# --- JSONL ----------------------------------------------------------------------------------------


def test_jsonl_rows_skip_blank_lines_and_are_numbered_densely() -> None:
    batch = read(jsonl({"image": "a.png", "audio": "a.mp3"}, "", "   ", {"image": "b.png", "audio": "b.mp3"}, ""))
    assert [item.row for item in batch.items] == [1, 2]
    assert requests(batch) == [{"image": "a.png", "audio": "a.mp3"}, {"image": "b.png", "audio": "b.mp3"}]
    assert batch.bad_rows == 0


def test_the_item_shape() -> None:
    item = only(read(jsonl({"image": "a.png", "audio": "a.mp3"})))
    assert json.loads(item.model_dump_json()) == {
        "batch": {
            "name": "Spring Lessons",
            "batch_id": item.batch.batch_id,
            "key": f"s3://{BUCKET}/{JSONL_KEY}",
            "folder": "batches/team",
        },
        "row": 1,
        "job_id": item.job_id,
        "request": {"image": "a.png", "audio": "a.mp3"},
        "problem": None,
    }
    assert item.batch.batch_id.startswith("spring-lessons-")
    assert item.job_id.startswith("spring-lessons-1-")


def test_a_line_that_is_not_json_is_a_bad_row_naming_its_row_and_line() -> None:
    batch = read(jsonl({"image": "a.png"}, "", '{"image": "b.png",', {"image": "c.png"}))
    assert [item.problem is not None for item in batch.items] == [False, True, False]
    bad = batch.items[1]
    assert bad.request is None
    assert bad.problem is not None
    assert bad.problem.startswith("row 2: not valid JSON at column ")
    assert bad.problem.endswith("(line 3)")
    assert batch.bad_rows == 1


@pytest.mark.parametrize(
    ("line", "kind"),
    [("[1, 2]", "an array"), ('"alice.png"', "a string"), ("42", "a number"), ("null", "null"), ("true", "a boolean")],
)
def test_a_line_that_is_not_an_object_is_a_bad_row(line: str, kind: str) -> None:
    batch = read(jsonl({"image": "a.png"}, {"image": "b.png"}, line))
    assert batch.items[2].problem == f"row 3: not a JSON object ({kind}) (line 3)"
    assert batch.items[2].request is None


def test_a_bom_and_crlf_line_ends_are_fine() -> None:
    raw = "\ufeff" + '{"image": "a.png"}\r\n{"image": "b.png"}\r\n'
    assert requests(read(raw.encode())) == [{"image": "a.png"}, {"image": "b.png"}]


@pytest.mark.parametrize(
    "line",
    ['{"image": "a.png", "seed": NaN}', '{"image": "a.png", "seed": 1e400}', '{"x": Infinity}'],
)
def test_numbers_json_cannot_carry_are_a_bad_row(line: str) -> None:
    item = only(read(line.encode()))
    assert item.request is None
    assert item.problem is not None
    assert item.problem.startswith("row 1: not valid JSON")


def test_a_lone_surrogate_is_a_bad_row() -> None:
    item = only(read(b'{"image": "a\\ud800.png", "job_id": "mine-7"}'))
    assert item.problem == "row 1: holds a lone surrogate (\\ud800-\\udfff), which is not text (line 1)"
    assert item.job_id == "mine-7"
    BATCH_ITEMS.dump_json([item])


def test_deep_nesting_is_a_bad_row() -> None:
    deep = '{"image": "a.png", "options": ' + "[" * 5000 + "]" * 5000 + "}"
    item = only(read(deep.encode()))
    assert item.problem is not None
    assert "nested" in item.problem


def test_a_row_over_the_row_limit_is_a_bad_row() -> None:
    item = only(read(jsonl({"image": "a.png", "prompt": "x" * MAX_ROW_BYTES})))
    assert item.problem is not None
    assert f"a row may be at most {MAX_ROW_BYTES}" in item.problem


def test_fields_are_passed_as_written_for_intake_to_validate() -> None:
    row = {"image": "a.png", "audio": 7, "colour": "blue", "options": {"whatever": [1]}}
    assert requests(read(jsonl(row))) == [row]


# --- CSV ------------------------------------------------------------------------------------------


def read_csv(text: str, key: str = CSV_KEY) -> Batch:
    return read(text.encode(), key)


def test_csv_option_and_aigc_columns_build_objects() -> None:
    batch = read_csv(
        "image,audio,options.output_resolution,options.pe_fast_mode,options.mode,options.tags,aigc_meta.producer_id\n"
        'a.png,a.mp3,720,true,pro,"[1, 2]",p-1\n'
    )
    assert requests(batch) == [
        {
            "image": "a.png",
            "audio": "a.mp3",
            "options": {"output_resolution": 720, "pe_fast_mode": True, "mode": "pro", "tags": [1, 2]},
            "aigc_meta": {"producer_id": "p-1"},
        }
    ]


def test_csv_json_cells_and_columns_merge() -> None:
    batch = read_csv(
        'image,audio,options,options.seed_mode,aigc_meta\na.png,a.mp3,"{""output_resolution"": 1080}",fixed,'
        '"{""producer_id"": ""p"", ""content_propagator"": ""c""}"\n'
    )
    assert requests(batch) == [
        {
            "image": "a.png",
            "audio": "a.mp3",
            "options": {"output_resolution": 1080, "seed_mode": "fixed"},
            "aigc_meta": {"producer_id": "p", "content_propagator": "c"},
        }
    ]


def test_csv_an_option_given_twice_is_a_bad_row() -> None:
    item = only(read_csv('image,options,options.mode\na.png,"{""mode"": ""std""}",pro\n'))
    assert item.problem == "row 1: options.mode is given twice (in the options cell and its own column) (line 2)"


@pytest.mark.parametrize("cell", ['"[1, 2]"', "nope", '"{""a"": NaN}"'])
def test_csv_an_options_cell_that_is_not_an_object_is_a_bad_row(cell: str) -> None:
    item = only(read_csv(f"image,options\na.png,{cell}\n"))
    assert item.problem is not None
    assert item.problem.startswith("row 1: column options: not a JSON object")


def test_csv_numeric_cells() -> None:
    batch = read_csv("image,seed,max_cost_usd\na.png,42,1.5\nb.png, -1 ,2\nc.png,,\n")
    assert requests(batch) == [
        {"image": "a.png", "seed": 42, "max_cost_usd": 1.5},
        {"image": "b.png", "seed": -1, "max_cost_usd": 2},
        {"image": "c.png"},
    ]


@pytest.mark.parametrize("cell", ["forty-two", "true", "NaN", "1e400", "[42]", "4_2"])
def test_csv_a_bad_number_is_a_bad_row_naming_the_column(cell: str) -> None:
    batch = read_csv(f"image,seed,job_id\na.png,1,\nb.png,{cell},caller-9\n")
    assert batch.items[0].problem is None
    bad = batch.items[1]
    assert bad.problem == f"row 2: column seed: {cell!r} is not a number (line 3)"
    assert bad.request is None
    assert bad.job_id == "caller-9"


def test_csv_empty_cells_are_absent_and_blank_records_are_skipped() -> None:
    batch = read_csv("image,audio,prompt,seed\n\na.png,,  ,\n,,,\n\nb.png,b.mp3,,\n")
    assert requests(batch) == [{"image": "a.png"}, {"image": "b.png", "audio": "b.mp3"}]
    assert [item.row for item in batch.items] == [1, 2]


def test_csv_quoted_commas_newlines_quotes_and_unicode() -> None:
    text = 'image,audio,prompt\n"a,1.png",音声.mp3,"Sie sagt: ""Hallo,\nWelt"" 👋"\nb.png,b.mp3,x\n'
    batch = read_csv(text)
    assert requests(batch) == [
        {"image": "a,1.png", "audio": "音声.mp3", "prompt": 'Sie sagt: "Hallo,\nWelt" 👋'},
        {"image": "b.png", "audio": "b.mp3", "prompt": "x"},
    ]


def test_csv_a_bad_row_after_a_multiline_cell_names_the_line_it_starts_on() -> None:
    item = read_csv('image,prompt,seed\na.png,"one\ntwo\nthree",1\nb.png,x,oops\n').items[1]
    assert item.problem == "row 2: column seed: 'oops' is not a number (line 5)"


def test_csv_with_a_bom_and_crlf() -> None:
    batch = read_csv("\ufeffimage,audio\r\na.png,a.mp3\r\n")
    assert requests(batch) == [{"image": "a.png", "audio": "a.mp3"}]


def test_csv_unknown_columns_are_kept_for_the_request_model_to_refuse() -> None:
    batch = read_csv("image,Audio,colour\na.png,a.mp3,blue\n")
    assert requests(batch) == [{"image": "a.png", "Audio": "a.mp3", "colour": "blue"}]


def test_csv_more_cells_than_columns_is_a_bad_row_but_trailing_empty_cells_are_not() -> None:
    batch = read_csv("image,audio\na.png,a.mp3,,\nb.png,b.mp3,extra\n")
    assert batch.items[0].request == {"image": "a.png", "audio": "a.mp3"}
    assert batch.items[1].problem == "row 2: has 3 cells but the header names 2 columns (line 3)"


def test_csv_a_value_under_an_unnamed_column_is_a_bad_row() -> None:
    batch = read_csv("image,,audio\na.png,,a.mp3\nb.png,x,b.mp3\n")
    assert batch.items[0].request == {"image": "a.png", "audio": "a.mp3"}
    assert batch.items[1].problem == "row 2: has a value under a column with no name: 'x' (line 3)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alice.png,alice.mp3\nbob.png,bob.mp3\n", "has no header row"),
        ("image;audio\na.png;a.mp3\n", "has no header row"),
        ("image,audio,image\na.png,a.mp3,b.png\n", "names column(s) image more than once"),
        ("image,audio\n", "has no rows"),
        ("image,audio\n,\n\n", "has no rows"),
        ("\n\n", "has no rows (and no header)"),
        ("", "has no rows (and no header)"),
        ('image,prompt\na.png,"' + "x" * 200_000, "is not well-formed CSV"),
    ],
)
def test_csv_files_that_cannot_be_a_batch_are_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        read_csv(text)
    assert raised.value.cause.startswith("batch s3://avatar-input/batches/lessons.csv ")
    assert message in raised.value.cause


# --- whole-file limits ----------------------------------------------------------------------------


def test_up_to_max_rows_is_a_batch_and_one_more_is_refused() -> None:
    lines = [json.dumps({"image": f"{n}.png"}) for n in range(MAX_ROWS)]
    assert len(read("\n".join(lines).encode()).items) == MAX_ROWS
    with pytest.raises(InvalidRequest, match=f"has more than {MAX_ROWS} rows"):
        read("\n".join([*lines, lines[0]]).encode())
    header = "image\n"
    assert len(read_csv(header + "a.png\n" * MAX_ROWS).items) == MAX_ROWS
    with pytest.raises(InvalidRequest, match=f"has more than {MAX_ROWS} rows"):
        read_csv(header + "a.png\n" * (MAX_ROWS + 1))


def test_blank_lines_do_not_count_towards_the_row_limit() -> None:
    raw = ('{"image": "a.png"}\n\n\n' * MAX_ROWS).encode()
    assert len(read(raw).items) == MAX_ROWS


def test_a_file_over_the_size_cap_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=f"the limit is {MAX_BATCH_BYTES} bytes"):
        read(b"\n" * (MAX_BATCH_BYTES + 1))


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"image": "caf\xe9.png"}'])
def test_a_file_that_is_not_utf8_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest, match="is not UTF-8 text"):
        read(raw)


@pytest.mark.parametrize("raw", [b"", b"\n \n\r\n", "\ufeff".encode()])
def test_an_empty_file_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest, match="has no rows"):
        read(raw)


def test_a_name_that_is_not_csv_or_jsonl_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"must end in \.csv or \.jsonl"):
        read(b"{}", "batches/x.json")


# --- job ids and batch ids ------------------------------------------------------------------------


ROWS = [{"image": "a.png", "audio": "a.mp3"}, {"image": "b.png", "audio": "b.mp3"}, {"image": "c.png"}]


def job_ids(batch: Batch) -> list[str]:
    return [item.job_id for item in batch.items]


def test_job_ids_are_the_same_on_every_read_and_for_a_new_version_of_the_same_file() -> None:
    first = read(jsonl(*ROWS), revision="v1")
    assert job_ids(first) == job_ids(read(jsonl(*ROWS), revision="v1"))
    assert job_ids(first) == job_ids(read(jsonl(*ROWS), revision="v2"))
    assert len(set(job_ids(first))) == 3
    content = json.dumps(ROWS[0], sort_keys=True, separators=(",", ":"))
    assert first.items[0].job_id == batch_row_job_id(JSONL_KEY, 1, content)


def test_key_order_and_spacing_do_not_change_a_job_id() -> None:
    reordered = '{ "audio" : "a.mp3", "image": "a.png" }'
    assert job_ids(read(jsonl(ROWS[0])))[0] == job_ids(read(reordered.encode()))[0]


def test_an_edited_row_gets_a_new_job_id_and_the_others_keep_theirs() -> None:
    edited = [ROWS[0], {**ROWS[1], "prompt": "smile"}, ROWS[2]]
    before, after = job_ids(read(jsonl(*ROWS))), job_ids(read(jsonl(*edited)))
    assert before[0] == after[0]
    assert before[1] != after[1]
    assert before[2] == after[2]


def test_the_same_rows_in_another_file_are_other_jobs() -> None:
    other = "batches/team/other.jsonl"
    assert set(job_ids(read(jsonl(*ROWS)))).isdisjoint(job_ids(read(jsonl(*ROWS), other)))


def test_the_callers_job_id_is_kept_and_a_malformed_one_is_not_used() -> None:
    batch = read(jsonl({"image": "a.png", "job_id": "lesson-7"}, {"image": "b.png", "job_id": "../etc"}))
    assert batch.items[0].job_id == "lesson-7"
    assert batch.items[1].job_id.startswith("spring-lessons-2-")
    assert batch.items[1].request == {"image": "b.png", "job_id": "../etc"}


def test_csv_job_ids_follow_the_parsed_row_not_the_column_order() -> None:
    one = read_csv("image,audio\na.png,a.mp3\n")
    two = read_csv("audio,image\na.mp3,a.png\n")
    assert job_ids(one) == job_ids(two)


def test_bad_rows_get_stable_job_ids_from_their_text() -> None:
    raw = jsonl({"image": "a.png"}, "not json")
    assert job_ids(read(raw))[1] == job_ids(read(raw, revision="v9"))[1]
    assert job_ids(read(raw))[1] != job_ids(read(jsonl({"image": "a.png"}, "not json!")))[1]
    assert job_ids(read(raw))[1] == batch_row_job_id(JSONL_KEY, 2, "not json")


def test_batch_ids_are_per_object_version() -> None:
    v1 = batch_ref(BUCKET, JSONL_KEY, "v1")
    assert v1 == batch_ref(BUCKET, JSONL_KEY, "v1")
    assert v1.batch_id != batch_ref(BUCKET, JSONL_KEY, "v2").batch_id
    assert v1.batch_id != batch_ref("other-bucket", JSONL_KEY, "v1").batch_id
    assert v1.batch_id.startswith("spring-lessons-")
    assert len(v1.batch_id.rsplit("-", 1)[1]) == 8
    assert batch_ref(BUCKET, "batches/日本語.csv", "v1").batch_id.startswith("batch-")


def test_batch_source_uses_the_version_or_else_the_etag_and_sequencer() -> None:
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": 1700000000,
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": "batches/a+b.csv", "size": 3, "etag": "abc", "sequencer": "0001", "version-id": "null"},
            "request-id": "r",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }
    source = batch_source(event)
    assert (source.key, source.version_id, source.revision) == ("batches/a+b.csv", None, "abc:0001")
    event["detail"]["object"]["version-id"] = "v-7"
    assert batch_source(event).revision == "v-7"
    with pytest.raises(InvalidRequest, match="malformed S3 event"):
        batch_source({"source": "aws.s3"})


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("batches/a.csv", True),
        ("batches/A.CSV", True),
        ("batches/team/a.JsonL", True),
        ("batches/a.json", False),
        ("batches/._a.csv", False),
        ("batches/.csv", False),
        ("jobs/a.csv", False),
        ("batches-normalized/x/items.json", False),
        ("batchesX/a.csv", False),
    ],
)
def test_is_batch_key(key: str, expected: bool) -> None:
    assert is_batch_key(key) is expected


# --- any input ------------------------------------------------------------------------------------


def _read_or_refuse(raw: bytes, key: str) -> None:
    try:
        batch = read(raw, key)
    except InvalidRequest as refused:
        refusal = refused.cause
        assert refusal.startswith("batch s3://"), refusal
        return
    assert 1 <= len(batch.items) <= MAX_ROWS
    assert [item.row for item in batch.items] == list(range(1, len(batch.items) + 1))
    for item in batch.items:
        assert (item.request is None) == (item.problem is not None)
        assert item.problem is None or item.problem.startswith(f"row {item.row}: ")
    json.loads(BATCH_ITEMS.dump_json(batch.items))  # strict JSON: no NaN, no lone surrogates


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2000), key=st.sampled_from([JSONL_KEY, CSV_KEY]))
def test_any_bytes_are_a_batch_or_an_invalid_request(raw: bytes, key: str) -> None:
    _read_or_refuse(raw, key)


_CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(['"', ",", "\n", "\r\n", "{", "[1e400]", "NaN", '{"a": 1}', "\\ud800", '"\\udc00"', "-1"]),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.lists(_CELLS, max_size=6).map(lambda cells: ",".join(cells)), max_size=8),
    key=st.sampled_from([JSONL_KEY, CSV_KEY]),
)
def test_any_text_made_of_awkward_pieces_is_a_batch_or_an_invalid_request(lines: list[str], key: str) -> None:
    header = "image,options,options.mode,seed,job_id\n" if key == CSV_KEY else ""
    _read_or_refuse((header + "\n".join(lines)).encode("utf-8", "surrogatepass"), key)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200)
@given(row=st.dictionaries(st.text(max_size=8), _JSON, max_size=5))
def test_any_json_object_line_is_kept_as_written(row: dict[str, Any]) -> None:
    item = only(read(json.dumps(row).encode()))
    if item.problem is None:
        assert item.request == row
    else:
        assert "nested deeper" in item.problem
