"""Plays the saga tests revise and delete: a completed play each, and what they assert of one."""

from __future__ import annotations

from fountain_local.runtime import LocalAws
from fountain_local.saga_run import run_saga
from fountain_saga import topology
from fountain_saga.entities.reader import count_rows, read_play, rows_of_play
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from tests.conftest import corpus_text, example_text

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)
# What the plays are revised to: another play, with other counts of every kind.
DRAFT_TEXT = corpus_text("play-salt-ferry")
PRE_PIVOT = topology.REVISE_STEPS[: topology.REVISE_STEPS.index(topology.REVISE_PIVOT) + 1]
CLEANUPS = tuple(topology.CLEANUP_STEPS)


def rows_of(text: str) -> dict[str, int]:
    return {"script": 1, **parse_play(text).counts()}


def completed_play(aws: LocalAws) -> str:
    report = run_saga(aws, example_text())
    assert report.status == "COMPLETED"
    return report.play_id


def entry_of(play_id: str) -> ledger.LedgerRow:
    entry = ledger.get_entry(play_id)
    assert entry is not None
    return entry


def assert_at(play_id: str, version: int, text: str) -> None:
    """Readers see exactly this version, and the tables hold its rows and the head, nothing else."""
    stored = read_play(play_id)
    assert stored is not None and stored.version == version
    assert stored.document == parse_play(text)
    expected = rows_of(text)
    assert count_rows(play_id, version=version) == expected
    assert rows_of_play(play_id) == {**expected, "script": expected["script"] + 1}  # the head
    entry = entry_of(play_id)
    assert (entry.play_status, int(entry.version)) == ("COMPLETED", version)
    assert ledger.counts_of(entry.counts) == expected
