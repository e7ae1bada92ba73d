"""The envelope metadata written by hand is byte for byte the canonical JSON of the metadata
dict: the bureau hashes those bytes into HPKE's info, so one differing byte refuses the envelope."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from kiosk.sync.outbox import EnvelopeMeta
from kiosk.sync.seal import canonical_json, metadata, metadata_json

text = st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(kind=text, reference=text, key=text, kiosk=text, synced=st.booleans(),
       created=st.floats(min_value=0, max_value=4e9, allow_nan=False),
       mono=st.floats(min_value=-10, max_value=1e7, allow_nan=False),
       boot=st.integers(min_value=0, max_value=2**40), size=st.integers(min_value=0, max_value=2**24))
def test_metadata_json_is_the_canonical_json_of_the_metadata(kind, reference, key, kiosk, synced, created,
                                                             mono, boot, size):
    meta = EnvelopeMeta(kind, reference, key, created, kiosk, synced, boot, mono)
    assert metadata_json(meta, size) == canonical_json(metadata(meta, size))


@settings(max_examples=300, deadline=None)
@given(ts=st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_rfc3339_is_utc_with_six_fraction_digits_and_z(ts):
    from datetime import UTC, datetime

    from kiosk.sync.seal import rfc3339
    d = datetime.fromtimestamp(ts, UTC)
    assert rfc3339(ts) == d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000))
def test_envelope_base64url_is_the_standard_urlsafe_form_without_padding(data):
    import base64

    from kiosk.sync.seal import _b64url_bytes
    assert _b64url_bytes(data) == base64.urlsafe_b64encode(data).rstrip(b"=")
