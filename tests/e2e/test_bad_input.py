"""Bad and strange input through the API: a clear 4xx, or — where it is a valid play — a correct
one. Never a 5xx, a traceback, a hang or a partial play."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.play.fountain_syntax import normalise
from tests.e2e.conftest import Deployment, newest_play

PLAY = "INT. KITCHEN - NIGHT\n\nBOB\nHello.\n"
JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


REJECTED: list[tuple[str, dict[str, str], bytes, int, str]] = [
    # Malformed and truncated JSON, wrong shapes and types, missing fields
    ("truncated JSON", JSON, b'{"fountain": "INT. A', 400, "malformed_json"),
    ("truncated after key", JSON, b'{"fountain"', 400, "malformed_json"),
    ("trailing comma", JSON, b'{"fountain": "INT. A",}', 400, "malformed_json"),
    ("empty JSON body", JSON, b"", 400, "malformed_json"),
    ("JSON null", JSON, b"null", 400, "invalid_body"),
    ("JSON string", JSON, b'"INT. A"', 400, "invalid_body"),
    ("JSON number", JSON, b"42", 400, "invalid_body"),
    ("fountain true", JSON, _json({"fountain": True}), 400, "invalid_body"),
    ("fountain object", JSON, _json({"fountain": {"text": PLAY}}), 400, "invalid_body"),
    ("fountain list", JSON, _json({"fountain": [PLAY]}), 400, "invalid_body"),
    ("title number", JSON, _json({"fountain": PLAY, "title": 5}), 400, "invalid_body"),
    ("title empty", JSON, _json({"fountain": PLAY, "title": ""}), 400, "invalid_body"),
    ("title of 10 KB", JSON, _json({"fountain": PLAY, "title": "T" * 10_240}), 400, "invalid_body"),
    ("missing fountain", JSON, _json({"title": "x"}), 400, "invalid_body"),
    ("empty fountain", JSON, _json({"fountain": ""}), 400, "invalid_body"),
    ("whitespace fountain", JSON, _json({"fountain": "  \n "}), 400, "empty_play"),
    ("fountain a number", JSON, _json({"fountain": 5}), 400, "invalid_body"),
    ("title a list", JSON, _json({"fountain": PLAY, "title": []}), 400, "invalid_body"),
    ("unknown field", JSON, _json({"fountain": PLAY, "x": 1}), 400, "invalid_body"),
    # Empty, whitespace, NUL and binary
    ("empty text", TEXT, b"", 400, "empty_play"),
    ("whitespace only", TEXT, b"   \n\t\n  \n", 400, "empty_play"),
    ("NUL bytes", TEXT, b"INT. A\x00\x00\n\nBOB\nHi.\n", 400, "invalid_play"),
    ("PNG bytes", TEXT, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 400, "invalid_encoding"),
    ("UTF-16 text", TEXT, PLAY.encode("utf-16"), 400, "invalid_encoding"),
    (
        "a lone surrogate escaped in JSON",
        JSON,
        b'{"fountain": "INT. A\\n\\nBOB\\nHi \\ud800."}',
        400,
        "invalid_body",
    ),
    (
        "a lone surrogate in the title",
        JSON,
        _json({"fountain": PLAY, "title": "\ud800"}),
        400,
        "invalid_body",
    ),
    ("Latin-1 inside JSON", JSON, b'{"fountain": "INT. CAF\xc9\\n\\nBOB\\nHi."}', 400, "invalid_encoding"),
    # Sizes and pathological Fountain
    ("one line of 1 MB", TEXT, ("INT. A\n\n" + "x" * 1_000_000).encode(), 400, "play_too_large"),
    (
        "100,000 lines of boneyard and no play",
        TEXT,
        ("/*\n" + "bone\n" * 100_000 + "*/\n").encode(),
        400,
        "invalid_play",
    ),
    ("20,001 act markers", TEXT, ("INT. A\n\n" + "# ACT\n\n" * 20_001).encode(), 400, "play_too_large"),
    # Hostile shapes: refused at once, not after seconds of parsing or with a RecursionError
    ("24 KB of unclosed notes", TEXT, b"[[" * 12_000, 400, "invalid_play"),
    ("8 KB of nested boneyard", TEXT, b"/*" * 4_000, 400, "invalid_play"),
    (
        "2 MiB less a little of tiny paragraphs",
        TEXT,
        ("INT. A\n\n" + "a\n\n" * 690_000).encode(),
        400,
        "play_too_large",
    ),
    # Plays that cannot be stored are refused at the door, never accepted and rolled back
    (
        "one scene of 30,000 paragraphs",
        TEXT,
        ("INT. A\n\n" + "a\n\n" * 30_000).encode(),
        400,
        "play_too_large",
    ),
    (
        "four 60K-character CJK paragraphs",
        TEXT,
        ("INT. A\n\n" + "\n\n".join(["字" * 60_000] * 4)).encode(),
        400,
        "play_too_large",
    ),
    (
        "one speech of ten 50K lines between parentheticals",
        TEXT,
        ("INT. A\n\nBOB\n" + "\n(beat)\n".join(["x" * 50_000] * 10)).encode(),
        400,
        "play_too_large",
    ),
    (
        "a 600 KB Notes: field",
        TEXT,
        ("Title: T\nNotes: " + "n" * 600_000 + "\n\n" + PLAY).encode(),
        400,
        "play_too_large",
    ),
    (
        "ten 60K notes before the play",
        TEXT,
        ("\n\n".join(["[[" + "n" * 60_000 + "]]"] * 10) + "\n\n" + PLAY).encode(),
        400,
        "play_too_large",
    ),
    (
        "100,000 lines of boneyard after a play: kept, and too many for one row",
        TEXT,
        (PLAY + "\n/*\n" + "bone\n" * 100_000 + "*/\n").encode(),
        400,
        "play_too_large",
    ),
    (
        "20,000 synopses under one act",
        TEXT,
        ("# ACT\n\n" + "= s\n\n" * 20_000 + PLAY).encode(),
        400,
        "play_too_large",
    ),
    (
        "title page title of 10 KB",
        TEXT,
        ("Title: " + "T" * 10_240 + "\n\n" + PLAY).encode(),
        400,
        "invalid_play",
    ),
    ("only action", TEXT, b"It rains.\n\nIt keeps raining.\n", 400, "invalid_play"),
    ("body over the limit", TEXT, b"INT. A\n\n" + b"x" * (2 * 1024 * 1024), 413, "body_too_large"),
    ("invalid UTF-8", TEXT, b"INT. CAF\xc9 - DAY\n\nBOB\nHi.\n", 400, "invalid_encoding"),
    ("XML", {"Content-Type": "application/xml"}, b"<play/>", 415, "unsupported_media_type"),
    ("no content type", {}, PLAY.encode(), 415, "unsupported_media_type"),
    # Headers
    (
        "fault step in lower case",
        {**TEXT, "X-Fountain-Fail-At": "createscript"},
        PLAY.encode(),
        400,
        "unknown_step",
    ),
    (
        "fault step with a space",
        {**TEXT, "X-Fountain-Fail-At": "Create Script"},
        PLAY.encode(),
        400,
        "unknown_step",
    ),
    (
        "a compensation as fault step",
        {**TEXT, "X-Fountain-Fail-At": "DeleteActs"},
        PLAY.encode(),
        400,
        "unknown_step",
    ),
    (
        "fault step with injection",
        {**TEXT, "X-Fountain-Fail-At": "CreateScript'; --"},
        PLAY.encode(),
        400,
        "unknown_step",
    ),
    (
        "unknown fault mode",
        {**TEXT, "X-Fountain-Fail-At": "CreateActs", "X-Fountain-Fail-Mode": "melt"},
        PLAY.encode(),
        400,
        "unknown_fault_mode",
    ),
    (
        "idempotency key of 129",
        {**TEXT, "Idempotency-Key": "k" * 129},
        PLAY.encode(),
        400,
        "invalid_idempotency_key",
    ),
    (
        "idempotency key with a slash",
        {**TEXT, "Idempotency-Key": "a/b"},
        PLAY.encode(),
        400,
        "invalid_idempotency_key",
    ),
    # Content types
    (
        "form encoded",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"fountain=INT.+A",
        415,
        "unsupported_media_type",
    ),
    (
        "multipart",
        {"Content-Type": "multipart/form-data; boundary=x"},
        b"--x--",
        415,
        "unsupported_media_type",
    ),
    ("HTML", {"Content-Type": "text/html"}, b"<p>INT. A</p>", 415, "unsupported_media_type"),
    (
        "octet stream",
        {"Content-Type": "application/octet-stream"},
        PLAY.encode(),
        415,
        "unsupported_media_type",
    ),
    (
        "JSON in Latin-1",
        {"Content-Type": "application/json; charset=latin-1"},
        _json({"fountain": PLAY}),
        415,
        "unsupported_charset",
    ),
]


@pytest.mark.parametrize(
    ("case", "headers", "body", "status", "code"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_rejected_with_a_clear_error_and_nothing_started(
    case: str, headers: dict[str, str], body: bytes, status: int, code: str, deployment: Deployment
) -> None:
    newest = newest_play(deployment)
    response = deployment.request("POST", "/plays", body, headers)
    assert response.status == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10 and "Traceback" not in error["message"]
    assert newest_play(deployment) == newest


BAD_READS = [
    ("/plays/not-a-play-id", 400, "invalid_play_id"),
    ("/plays?limit=0", 400, "invalid_limit"),
    ("/plays?limit=many", 400, "invalid_limit"),
    ("/plays?nextToken=garbage!", 400, "invalid_next_token"),
    ("/stages", 404, "not_found"),
    ("/plays/ABCDEF0123456789ABCDEF0123456789", 400, "invalid_play_id"),
    ("/plays/0123456789abcdef0123456789abcde", 400, "invalid_play_id"),
    ("/plays/0123456789abcdef0123456789abcdef0", 400, "invalid_play_id"),
    ("/plays/..%2F..%2Fetc%2Fpasswd", 400, "invalid_play_id"),
    ("/plays/%E2%98%83", 400, "invalid_play_id"),
    ("/plays/'%20OR%20'1'='1", 400, "invalid_play_id"),
    ("/plays/ffffffffffffffffffffffffffffffff", 404, "play_not_found"),
    ("/plays/ffffffffffffffffffffffffffffffff/fountain", 404, "play_not_found"),
    ("/plays?limit=-1", 400, "invalid_limit"),
    ("/plays?limit=101", 400, "invalid_limit"),
    ("/plays?limit=1.5", 400, "invalid_limit"),
    ("/plays?status=completed", 400, "invalid_status"),
    (
        "/plays?nextToken=" + base64.urlsafe_b64encode(b'{"secret": {"S": "x"}}').decode(),
        400,
        "invalid_next_token",
    ),
]


@pytest.mark.parametrize(("path", "status", "code"), BAD_READS, ids=[r[0] for r in BAD_READS])
def test_bad_reads_are_clear_4xx(path: str, status: int, code: str, deployment: Deployment) -> None:
    response = deployment.request("GET", path)
    assert response.status == status, response.text
    assert response.json()["error"]["code"] == code


ARABIC = "@\u0645\u0631\u064a\u0645"  # Maryam, forced: Arabic has no upper case
COMBINING = "@JOSE\u0301"  # E + COMBINING ACUTE ACCENT
STRANGE_BUT_VALID = [
    (
        "right-to-left and combining names",
        f"INT. SOUK - DAY\n\n{ARABIC}\n\u0645\u0631\u062d\u0628\u0627\n\n{COMBINING}\nHola.\n",
        None,
    ),
    (
        "injection-looking text kept verbatim",
        "INT. SERVER ROOM\n\n'; DROP TABLE plays; --\n\nBOB\n{{7*7}}\n\nALICE\n<script>alert('x')</script>\n",
        "<script>alert(1)</script> {{7*7}}",
    ),
    ("CRLF line endings", PLAY.replace("\n", "\r\n"), None),
    ("a byte order mark", "\ufeff" + PLAY, None),
    ("50,000 lines of boneyard after a play", PLAY + "\n/*\n" + "bone\n" * 50_000 + "*/\n", None),
    ("unterminated note", PLAY + "\n[[ a note that never ends\n\nALICE\nStill here.\n", None),
    ("a heading and nothing else", "EXT. MOOR - NIGHT\n", None),
    # A boneyard needs its "*/", as in screenplain and fountain.js: an unclosed "/*" is text.
    ("an unclosed boneyard", "/* INT. A\n\nBOB\nHi.\n", None),
    (
        "cues in every script, and a speech that starts in capitals",
        "INT. X - DAY\n\nJOSÉ\nHola.\n\nМАША\nПривет.\n\nΣΩΚΡΑΤΗΣ\nΧαίρε.\n\nMAN’S VOICE\nHey.\n\n"
        "BOB & ALICE\nTogether.\n\nMIKE\nOK.\nLet's go.\n",
        None,
    ),
    (
        "lines after a cue that look like other elements",
        "INT. X - DAY\n\nBOB\nINT. IS SHORT FOR INTERIOR.\nCUT TO:\n#1 fan here.\n"
        "> than you.\n.45 caliber.\n",
        None,
    ),
    (
        "notes, escapes, emphasis, lyrics and blank runs kept as written",
        "INT. X - DAY\n\nJACK[[names?]]\nThey run[[faster?]].\n\n[[a note of its own]]\n\n\n\n"
        "He's \\*not\\* serious.\n\n~la la\n~la la la\n\n_**THE END**_\n",
        None,
    ),
    ("a requested title on a play with a title page", "Title: Old\nAuthor: Me\n\n" + PLAY, "New *Name*"),
    ("a requested title on a play without one", PLAY, "Plain"),
]


@pytest.mark.parametrize(("case", "text", "title"), STRANGE_BUT_VALID, ids=[s[0] for s in STRANGE_BUT_VALID])
def test_strange_but_valid_plays_are_stored_correctly(
    case: str, text: str, title: str | None, deployment: Deployment
) -> None:
    expected = parse_play(text, title)
    created = deployment.post_play(text, title=title)
    assert created.status == 202, created.text
    play_id = created.json()["playId"]

    play = deployment.wait(play_id)

    assert play["status"] == "COMPLETED"
    assert play["title"] == expected.script.title
    assert play["counts"] == expected.counts()
    rebuilt = deployment.request("GET", f"/plays/{play_id}/fountain").text
    # Every character given back, but for the documented normalisations (line endings, a BOM,
    # the requested title written into the title page).
    assert rebuilt == render_fountain(expected)
    if title is None:
        assert rebuilt == normalise(text)
    assert parse_play(rebuilt).script.title == expected.script.title


def test_at_least_forty_bad_inputs_are_tried() -> None:
    assert len(REJECTED) + len(BAD_READS) + len(STRANGE_BUT_VALID) >= 40
