"""Object keys: `{store_id}/{kind}/{media_id}[.{ext}]` and the kinds' visibility."""

from __future__ import annotations

import uuid

import pytest

from packfinderz.kit.storage.base import PUBLIC_KINDS, InvalidStorageKey, build_key, parse_key


def test_parse_key_returns_its_parts() -> None:
    store, media = uuid.uuid4(), uuid.uuid4()
    parsed = parse_key(f"{store}/license_doc/{media}.pdf")
    assert (parsed.store_id, parsed.kind, parsed.media_id, parsed.ext) == (store, "license_doc", media, "pdf")
    assert parsed.is_public is False
    assert parse_key(f"{store}/other/{media}").ext is None


def test_public_kinds_follow_identity_spec() -> None:
    assert {"product", "ads", "store", "user", "coa"} == PUBLIC_KINDS
    store, media = uuid.uuid4(), uuid.uuid4()
    assert parse_key(f"{store}/coa/{media}.pdf").is_public
    for private in ("license_doc", "pdf", "manifest", "other"):
        assert not parse_key(f"{store}/{private}/{media}").is_public


def test_build_key_validates_what_it_builds() -> None:
    store, media = uuid.uuid4(), uuid.uuid4()
    assert build_key(store, "product", media, "png") == f"{store}/product/{media}.png"
    assert build_key(store, "other", media, None) == f"{store}/other/{media}"
    with pytest.raises(InvalidStorageKey):
        build_key(store, "product", media, "PNG;rm")
    with pytest.raises(InvalidStorageKey):
        build_key(store, "avatar", media, "png")
