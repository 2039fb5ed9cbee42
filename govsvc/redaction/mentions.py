"""Chat mentions ("@kofi.mensah"): a person, whether or not the roster knows them.

Roster handles are matched by the roster itself; this catches the rest. Broadcast mentions
("@here", "@channel") name nobody, and package scopes ("@types/node") are not mentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from govsvc.redaction.entities import CHAT_HANDLE
from govsvc.redaction.finding import Finding, FindingRecognizer

_MENTION = re.compile(r"(?<![\w.+@/-])@([^\W_][\w.-]*[^\W_]|[^\W_])(?![\w/@]|\.\w)")
BROADCAST: Final = frozenset({"here", "channel", "everyone", "all", "oncall", "team"})
SCORE: Final = 0.9


def find_mentions(text: str) -> Iterator[Finding]:
    for match in _MENTION.finditer(text):
        if match.group(1).casefold() not in BROADCAST:
            yield Finding(match.start(), match.end(), CHAT_HANDLE, SCORE)


class MentionRecognizer(FindingRecognizer):
    def __init__(self) -> None:
        super().__init__(name="chat-mention", entities=[CHAT_HANDLE])

    def find(self, text: str) -> Iterator[Finding]:
        return find_mentions(text)
