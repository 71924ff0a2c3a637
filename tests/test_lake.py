"""The lake (resources/lake.py): a folder or an S3 prefix, listed in S3's key order, checked with
messages that say what to fix, read many objects at once (one GET each) into memory or local
files."""

from __future__ import annotations

import pytest

from sparkify_assets.resources.lake import Lake, LakeError, ObjectReadError, is_data_key
from sparkify_assets.resources.lake_objects import (
    EMPTY,
    FOLDER_MARKER,
    JSONPATHS,
    MARKER,
    OTHER_SUFFIX,
    NotData,
    named,
    not_data_reason,
)
from tests.s3_server import latency_proxy
from tests.support import counting_calls, put


def test_listing_pages_through_thousands_of_keys(many_keys, s3_endpoint, aws_credentials):
    url, raw_keys = many_keys
    data_keys = [k for k in raw_keys if k.endswith(".json")]
    lake = Lake(url=url, s3_endpoint_url=s3_endpoint)
    with counting_calls(lake) as calls:
        pages = list(lake.list_pages("song_data/"))
    assert [o.key for p in pages for o in p.objects] == data_keys
    assert [p.last_key for p in pages] == [raw_keys[999], raw_keys[1999], raw_keys[-1]]
    assert [p.more for p in pages] == [True, True, False]
    assert calls["ListObjectsV2"] == 3

    # The whole prefix: its 26 folders listed side by side, joined in key order.
    with counting_calls(lake) as calls:
        assert [o.key for o in lake.list_objects("song_data/")] == data_keys
    assert calls["ListObjectsV2"] == 1 + 26  # the folders, then each folder (one page each)

    with counting_calls(lake) as calls:
        tail = list(lake.list_objects("song_data/", start_after=data_keys[-10]))
    assert [o.key for o in tail] == data_keys[-9:]
    assert calls["ListObjectsV2"] == 1


# Keys whose order tells a folder walk from S3's plain string order: a folder `a` sorts as `a/`,
# after `a-b.json` and `a.json` (`-` < `.` < `/`) and before `a0.json`; upper case before lower;
# non-ASCII last. Not data: an empty object, a non-JSON key and the JSONPaths file.
TRICKY = {
    "log_data/A.json": "1",
    "log_data/a b.json": "22",
    "log_data/a-b.json": "333",
    "log_data/a.b/c.json": "4444",
    "log_data/a.json": "55555",
    "log_data/a/b.json": "6",
    "log_data/a/c/d.json": "77",
    "log_data/a0.json": "888",
    "log_data/ab.json": "9999",
    "log_data/ä.json": "10",
    "log_data/empty.json": "",
    "log_data/notes.txt": "11",
    "log_data/log_json_path.json": "12",
    "song_data/x.json": "13",
}
DATA = sorted(k for k in TRICKY if k.startswith("log_data/") and k.endswith(".json"))
DATA = [k for k in DATA if TRICKY[k] and not k.endswith("log_json_path.json")]


def folder_lake(root) -> Lake:
    for key, body in TRICKY.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(body)
    return Lake(url=str(root))


def pages(lake: Lake, start_after=None, page_size=3):
    return [
        ([(o.key, o.size) for o in p.objects], p.last_key, p.more, p.not_data)
        for p in lake.list_pages("log_data/", start_after, page_size)
    ]


def test_a_folder_lists_data_keys_in_s3_order(tmp_path):
    lake = folder_lake(tmp_path)
    listed = list(lake.list_objects("log_data/"))
    assert [o.key for o in listed] == DATA
    assert [o.size for o in listed] == [len(TRICKY[k]) for k in DATA]
    assert [o.key for o in lake.list_objects("log_data/", start_after="log_data/a.json")] == [
        k for k in DATA if k > "log_data/a.json"
    ]
    # Every key ever listed, data or not, is in pages of at most page_size keys.
    raw = sorted(k for k in TRICKY if k.startswith("log_data/"))
    assert [p[1] for p in pages(lake)] == [raw[2], raw[5], raw[8], raw[11], raw[-1]]


def test_a_folder_and_s3_list_the_same_pages(tmp_path, s3_endpoint, s3_client, s3_lake):
    folder = folder_lake(tmp_path)
    for key, body in TRICKY.items():
        put(s3_client, s3_lake, key, body.encode())
    s3 = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    for start_after in (
        None,
        "log_data/a-b.json",
        "log_data/a/",
        "log_data/a/c/d.json",
        "log_data/zz",
    ):
        for page_size in (1, 3, 1000):
            assert pages(folder, start_after, page_size) == pages(s3, start_after, page_size), (
                start_after,
                page_size,
            )
    assert [o.key for o in s3.list_objects("log_data/")] == DATA
    assert list(s3.list_objects("no_such_prefix/")) == list(folder.list_objects("no_such/")) == []
    # What is not data is set apart the same way, with why; an S3 folder marker is a folder.
    put(s3_client, s3_lake, "log_data/a/", b"")
    assert s3.listing("log_data/").not_data == folder.listing("log_data/").not_data
    assert [(o.key, o.reason) for o in folder.listing("log_data/").not_data] == [
        ("log_data/empty.json", EMPTY),
        ("log_data/log_json_path.json", JSONPATHS),
        ("log_data/notes.txt", OTHER_SUFFIX),
    ]


def test_a_symlinked_folder_is_not_followed(tmp_path):
    lake = folder_lake(tmp_path / "lake")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "e.json").write_text("{}")
    (tmp_path / "lake" / "log_data" / "linked").symlink_to(tmp_path / "elsewhere")
    assert [o.key for o in lake.list_objects("log_data/")] == DATA


def test_check_says_what_to_fix_for_a_folder(tmp_path):
    lake = folder_lake(tmp_path / "lake")
    lake.check()
    lake.check("log_data/")
    with pytest.raises(LakeError) as error:
        lake.check("song_data/x/")
    assert str(error.value) == (
        f"SPARKIFY_LAKE={lake.url!r} has nothing under 'song_data/x/': the lake root should hold "
        "song_data/ and log_data/"
    )
    missing = Lake(url=str(tmp_path / "missing"))
    with pytest.raises(LakeError, match=r"^SPARKIFY_LAKE='.*/missing' is not a folder$"):
        missing.check("log_data/")


def test_check_says_what_to_fix_for_s3(s3_endpoint, s3_client, s3_lake, monkeypatch):
    lake = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    with pytest.raises(LakeError, match="has nothing under 'log_data/'"):
        lake.check("log_data/")
    put(s3_client, s3_lake, "log_data/d.json", b"{}")
    lake.check("log_data/")
    with pytest.raises(LakeError, match="names no bucket"):
        Lake(url="s3:///raw").check()

    # No credentials anywhere boto3 looks: said so, with where it looked.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    anonymous = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    with pytest.raises(LakeError, match="no AWS credentials found"):
        anonymous.check("log_data/")


def test_local_files_are_the_files_themselves_in_a_folder(tmp_path):
    lake = folder_lake(tmp_path)
    with lake.content_files(DATA[:2]) as paths:
        assert paths == {k: tmp_path.resolve() / k for k in DATA[:2]}
    assert all(p.exists() for p in paths.values())  # nothing removed
    assert lake.read_bytes(DATA[0]) == TRICKY[DATA[0]].encode()


def test_local_files_of_s3_are_copies_removed_afterwards(s3_endpoint, s3_client, s3_lake):
    for key in DATA:
        put(s3_client, s3_lake, key, TRICKY[key].encode())
    lake = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    with lake.content_files(DATA) as paths:
        assert list(paths) == DATA
        assert {k: p.read_bytes() for k, p in paths.items()} == {
            k: TRICKY[k].encode() for k in DATA
        }
        (spool,) = {p.parent for p in paths.values()}
    assert not spool.exists()
    with pytest.raises(RuntimeError), lake.content_files(DATA[:1]) as paths:
        spool = next(iter(paths.values())).parent
        raise RuntimeError("the load failed")
    assert not spool.exists()  # removed on a failure too
    assert lake.read_bytes(DATA[0]) == TRICKY[DATA[0]].encode()


def test_s3_names_and_region(s3_endpoint, s3_client, aws_credentials):
    lake = Lake(url="s3://bucket-x/raw/lake/")
    assert (lake.is_s3, lake.bucket, lake.prefix) == (True, "bucket-x", "raw/lake/")
    assert lake.s3_uri("log_data/d.json") == "s3://bucket-x/raw/lake/log_data/d.json"
    assert Lake(url="s3://bucket-x").prefix == ""
    s3_client.create_bucket(
        Bucket="lake-in-ireland", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3_client.create_bucket(Bucket="lake-in-virginia")
    assert Lake(url="s3://lake-in-ireland/x", s3_endpoint_url=s3_endpoint).region() == "eu-west-1"
    assert Lake(url="s3://lake-in-virginia", s3_endpoint_url=s3_endpoint).region() == "us-east-1"


def test_not_data_reason():
    assert not_data_reason("log_data/d.json", 1) is None
    assert not_data_reason("log_data/d.json.gz", 1) is None
    assert not_data_reason("log_data/2018/12/_SUCCESS", 0) == MARKER
    assert not_data_reason("log_data/_SUCCESS", 0) == MARKER
    assert not_data_reason("log_data/d.json.gz", 0) == EMPTY
    assert not_data_reason("log_data/d.csv", 9) == OTHER_SUFFIX
    assert not_data_reason("log_data/", 0) == FOLDER_MARKER


def test_objects_that_are_not_data_are_named_a_few_and_counted():
    not_data = [NotData(f"log_data/{n}/_SUCCESS", 0, MARKER) for n in range(4)]
    assert named(not_data, 3) == (
        f"4 object(s) not data: log_data/0/_SUCCESS [{MARKER}], log_data/1/_SUCCESS [{MARKER}], "
        f"log_data/2/_SUCCESS [{MARKER}] and 1 more"
    )
    assert named(not_data[:1], 3) == f"1 object(s) not data: log_data/0/_SUCCESS [{MARKER}]"


def test_is_data_key():
    assert is_data_key("log_data/d.json", 1)
    assert not is_data_key("log_data/d.json", 0)
    assert not is_data_key("log_data/", 0)
    assert not is_data_key("log_data/d.txt", 5)
    assert not is_data_key("log_data/log_json_path.json", 5)


# --- concurrent reads, through a proxy that gives every request S3's latency -------------------


@pytest.fixture
def slow_lake(s3_endpoint, s3_client, s3_lake):
    """40 objects behind a proxy answering 0.1 s late: a lake reading 8 at a time, the proxy's
    counters, and the objects' bodies by key."""
    bodies = {f"song_data/A/{n:03d}.json": b'{"song_id": "S%d"}' % n for n in range(40)}
    for key, body in bodies.items():
        put(s3_client, s3_lake, key, body)
    with latency_proxy(s3_endpoint, delay=0.1) as (endpoint, stats):
        yield Lake(url=s3_lake, s3_endpoint_url=endpoint, concurrency=8), stats, bodies


def test_s3_objects_are_read_with_one_get_each_many_at_once(slow_lake):
    lake, stats, bodies = slow_lake
    assert list(lake.read_contents(bodies)) == list(bodies.items())  # in the keys' order
    assert stats.by_method == {"GET": 40}  # no HEAD before a GET
    assert stats.max_in_flight == 8

    stats.reset()
    with lake.content_files(bodies) as paths:
        assert {k: p.read_bytes() for k, p in paths.items()} == bodies
    assert stats.by_method == {"GET": 40}
    assert stats.max_in_flight == 8


def test_a_whole_s3_prefix_is_listed_folder_by_folder_many_at_once(s3_endpoint, s3_client, s3_lake):
    # Folders two levels deep, keys beside folders at each level, and names that sort around
    # them ("A.json" < "A/" < "A0.json" in S3's order).
    keys = [f"song_data/{a}/{b}/TR{a}{b}{n}.json" for a in "ABCD" for b in "EFG" for n in range(3)]
    keys += ["song_data/A.json", "song_data/A0.json", "song_data/B/x.json", "song_data/ä/y.json"]
    for key in keys:
        put(s3_client, s3_lake, key, b"{}")
    with latency_proxy(s3_endpoint, delay=0.05) as (endpoint, stats):
        lake = Lake(url=s3_lake, s3_endpoint_url=endpoint, concurrency=4)
        listed = [o.key for o in lake.list_objects("song_data/")]
    assert listed == sorted(keys, key=str.encode)
    assert stats.max_in_flight == 4
    # song_data/ (5 folders: too few, so split further), its 5 folders (12 in all: enough),
    # then each of those 12 listed whole.
    assert stats.by_method == {"GET": 1 + 5 + 12}


def test_a_failed_get_is_retried_and_a_missing_object_named(slow_lake):
    lake, stats, bodies = slow_lake
    first = next(iter(bodies))
    stats.fail_once.add(f"/{lake.bucket}/{lake.prefix}{first}")  # S3's 503 SlowDown, once
    assert dict(lake.read_contents(bodies)) == bodies
    assert stats.by_method == {"GET": 41}

    missing = "song_data/A/gone.json"
    with pytest.raises(ObjectReadError, match=f"{lake.s3_uri(missing)}: .*NoSuchKey"):
        list(lake.read_contents([first, missing]))
    with pytest.raises(ObjectReadError, match=lake.s3_uri(missing)), lake.content_files([missing]):
        pass
