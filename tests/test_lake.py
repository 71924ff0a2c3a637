"""The lake (resources/lake.py): a folder or an S3 prefix, listed in S3's key order, checked with
messages that say what to fix, read through local files."""

from __future__ import annotations

from sparkify_assets.resources.lake import Lake
from tests.support import counting_calls


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

    with counting_calls(lake) as calls:
        tail = list(lake.list_objects("song_data/", start_after=data_keys[-10]))
    assert [o.key for o in tail] == data_keys[-9:]
    assert calls["ListObjectsV2"] == 1
