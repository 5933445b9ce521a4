"""Text from elsewhere (a server's error message, an unverified token claim), made safe for a
terminal: control characters and escape sequences are shown, not obeyed."""

from __future__ import annotations

import re

# C0 controls (tab and newline included: a message is one line), DEL and the C1 controls,
# which some terminals also read as the start of an escape sequence.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character replaced by its escape (\\x1b, \\n...)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None
