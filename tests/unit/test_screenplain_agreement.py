"""We read every document as screenplain does, or the allow-list says why the spec reads it otherwise.

screenplain (MIT) is the Fountain reader that agreed with the spec most often in our comparison;
both readings are projected onto what both model (tests/unit/element_sequence.py). Every
disagreement must be in ``tests/corpus/screenplain_allowlist.toml`` with the spec's reason, and
an entry whose document has come to agree must go.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, EXTRA_SAMPLES, extra_samples
from tests.unit import element_sequence

ALLOWED: dict[str, dict[str, Any]] = tomllib.loads(
    (CORPUS / "screenplain_allowlist.toml").read_text(encoding="utf-8")
)
DOCUMENTS = sorted(path.stem for path in CORPUS.glob("*.fountain"))


def _check(key: str, text: str) -> None:
    ours, theirs = element_sequence.ours(text), element_sequence.screenplain(text)
    if key in ALLOWED:
        assert ours != theirs, f"{key} now reads as screenplain reads it: remove its allow-list entry"
        return
    assert ours == theirs, f"{key}: we read it differently from screenplain and the allow-list says nothing"


def test_every_allow_list_entry_gives_the_specs_reason_and_names_a_document() -> None:
    extra = {f"extra/{p.values[0].relative_to(EXTRA_SAMPLES)}" for p in extra_samples() if p.values[0]}
    for key, entry in ALLOWED.items():
        assert set(entry) == {"spec", "reason"}, key
        assert len(entry["spec"]) >= 20 and len(entry["reason"]) >= 20, key
        if key.startswith("extra/"):
            assert EXTRA_SAMPLES is None or key in extra, f"{key}: no such extra sample"
        else:
            assert key in DOCUMENTS, f"{key}: no such corpus document"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_corpus_document_reads_as_screenplain_reads_it_or_the_spec_says_otherwise(name: str) -> None:
    _check(name, (CORPUS / f"{name}.fountain").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", extra_samples())
def test_each_extra_sample_reads_as_screenplain_reads_it_or_the_spec_says_otherwise(path: Path) -> None:
    assert EXTRA_SAMPLES is not None
    _check(f"extra/{path.relative_to(EXTRA_SAMPLES)}", path.read_text(encoding="utf-8"))
