"""Text from documents, certificates, records and servers, made inert before a terminal shows it.

A terminal obeys escape sequences and control characters, and bidi controls reorder what
it draws: a signer's name could otherwise rewrite a verdict line. Each one removed is
shown as ``?`` so that the change stays visible; JSON output keeps the exact text.
"""

from __future__ import annotations

import re
import unicodedata

MARK = "?"

# Bidi embeddings, overrides and isolates, and the invisible direction marks.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

_SEQUENCES = re.compile(
    # OSC, DCS, SOS, PM, APC: a string up to its terminator (or to the end, if it has none)
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    # CSI: parameters, intermediates, one final byte
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    # any other escape: intermediates and one final byte
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)


def _unsafe(ch: str) -> bool:
    return ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc"


def printable(text: str) -> str:
    """``text`` without escape sequences, control characters or bidi controls; keeps newlines
    and tabs."""
    text = _SEQUENCES.sub(MARK, text)
    return "".join(MARK if ch not in "\n\t" and _unsafe(ch) else ch for ch in text)


def one_line(text: str) -> str:
    """``text`` made printable on a single line: line breaks and tabs become spaces."""
    flat = "".join(" " if ch in LINE_BREAKS or ch == "\t" else ch for ch in text)
    return printable(flat)


def is_printable(text: str) -> bool:
    """Whether ``text`` would show exactly as it is, on one line."""
    return one_line(text) == text


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a name (a control character or a bidi control), if it cannot."""
    for ch in text:
        if ch in BIDI_CONTROLS:
            return (
                f"contains the bidi control U+{ord(ch):04X}, which makes text show in another "
                "order than it is stored; remove it"
            )
        if unicodedata.category(ch) == "Cc" or ch in LINE_BREAKS:
            return (
                f"contains the control character U+{ord(ch):04X} (escape sequences, tabs and "
                "line breaks are not allowed in a name); remove it"
            )
    return None


def json_safe(text: str) -> str:
    """JSON text from json.dumps with DEL, C1 and bidi controls and line separators escaped
    too: the same JSON, inert on a terminal (json.dumps escapes only C0 in non-ASCII mode)."""
    return "".join(
        f"\\u{ord(ch):04x}" if ch >= "\x7f" and (_unsafe(ch) or ch in LINE_BREAKS) else ch
        for ch in text
    )
