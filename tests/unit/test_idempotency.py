"""Idempotency keys: each caller's own, for 24 hours, standing for a play id nobody can compute."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest

from fountain_saga.saga.idempotency import KEY_LIFETIME_SECONDS, IdempotencyConflict, claim

pytestmark = pytest.mark.usefixtures("local_aws")


def test_a_key_stands_for_one_play_for_its_caller() -> None:
    key = f"k-{uuid.uuid4()}"
    first = claim("alice", key, "request-1")
    again = claim("alice", key, "request-1")
    assert first.first_use and not again.first_use
    assert again.play_id == first.play_id
    # Random, not derived from the key: knowing a key tells nobody the play.
    assert first.play_id != hashlib.sha256(f"idempotency-key:{key}".encode()).hexdigest()[:32]


def test_another_caller_with_the_same_key_gets_a_play_of_its_own() -> None:
    key = f"k-{uuid.uuid4()}"
    alice = claim("alice", key, "request-1")
    bob = claim("bob", key, "request-2")  # a different request, and no conflict: a different caller
    assert bob.first_use and bob.play_id != alice.play_id


def test_a_key_reused_for_another_request_is_a_conflict_that_names_no_play() -> None:
    key = f"k-{uuid.uuid4()}"
    first = claim("alice", key, "request-1")
    with pytest.raises(IdempotencyConflict) as conflict:
        claim("alice", key, "request-2")
    assert first.play_id not in str(conflict.value)
    assert "24 hours" in str(conflict.value)


def test_a_key_expires_after_24_hours_even_before_dynamodb_deletes_it() -> None:
    key = f"k-{uuid.uuid4()}"
    now = time.time()
    first = claim("alice", key, "request-1", now=now)
    within = claim("alice", key, "request-1", now=now + KEY_LIFETIME_SECONDS - 60)
    after = claim("alice", key, "request-2", now=now + KEY_LIFETIME_SECONDS + 1)
    assert within.play_id == first.play_id
    assert after.first_use and after.play_id != first.play_id
