"""Article text made safe for a terminal.

Articles are untrusted input. An escape sequence inside one ("\\x1b[2J", an OSC 8 hyperlink, an
OSC 52 clipboard write, a carriage return that overwrites "not verified") would be obeyed by the
terminal if `rag ask` printed it raw. `printable` removes them from human output only: offsets,
citations and the JSON (which escapes control characters anyway) keep the exact text.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI ("\x1b[...m"), OSC/DCS/SOS/PM/APC strings up to BEL or ST, and
# the two-character escapes; then the 8-bit C1 forms of CSI and the string introducers.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x90\x98\x9d\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)",
    re.DOTALL,
)
# Every other C0 and C1 control character, and DEL; newline and tab are kept.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without terminal control sequences or control characters (newline and tab kept;
    a Windows line end becomes a newline)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))


__all__ = ["printable"]
