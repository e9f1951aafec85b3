"""Verified access tokens are remembered per process (issue #21); the cache never admits what a full
verification would refuse."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from packfinderz.config import Settings
from packfinderz.kit.security import AccessTokens, InvalidToken


def tokens() -> AccessTokens:
    return AccessTokens(Settings(app_env="dev", jwt_secret="s" * 48))


def test_a_verified_token_is_served_again_with_the_same_claims() -> None:
    signer = tokens()
    user = uuid.uuid4()
    token, _ = signer.issue(user_id=user, role="owner", jti="j1")
    assert signer.decode(token) == signer.decode(token)
    assert signer.decode(token).user_id == user


def test_a_tampered_token_is_refused_after_the_genuine_one_was_cached() -> None:
    signer = tokens()
    token, _ = signer.issue(user_id=uuid.uuid4(), role="owner", jti="j2")
    signer.decode(token)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(InvalidToken):
        signer.decode(forged)
    other, _ = tokens_with_other_secret().issue(user_id=uuid.uuid4(), role="owner", jti="j3")
    with pytest.raises(InvalidToken):
        signer.decode(other)


def tokens_with_other_secret() -> AccessTokens:
    return AccessTokens(Settings(app_env="dev", jwt_secret="t" * 48))


def test_expiry_is_checked_on_every_call_even_when_cached() -> None:
    signer = tokens()
    almost = datetime.now(UTC) - signer.lifetime + timedelta(seconds=2)
    token, expires = signer.issue(user_id=uuid.uuid4(), role="owner", jti="j4", now=almost)
    assert signer.decode(token).expires_at == expires  # cached while still valid
    long_ago = datetime.now(UTC) - signer.lifetime - timedelta(minutes=1)
    expired, _ = signer.issue(user_id=uuid.uuid4(), role="owner", jti="j5", now=long_ago)
    assert signer.decode(expired, verify_exp=False).jti == "j5"  # cached (refresh reads expired claims)
    with pytest.raises(InvalidToken, match="ExpiredSignatureError"):
        signer.decode(expired)
