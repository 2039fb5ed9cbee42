"""English words that are also people's names, and the shape of a name-like token.

A roster name that is also an everyday word ("Will", "Grant", "Price") is matched only when
written as a name (capitalised), so "we will grant access" keeps its words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

COMMON_WORDS: Final = frozenset(
    # A word list reads better as prose than as a column of 200 quoted strings.
    """
    abbot able about after again all also amber and angel any april art august autumn baker
    bank banks barber bell best bill bird bishop black bliss blue bond booth boss bowman brand
    brave bright brook brooks brown bud buddy bush butler button can candy carpenter case cash
    chance chandler chase chef chip chuck church clay cliff cloud cole cook cooper crane cross
    crystal daisy dale dash dawn day deacon dean destiny dew doc doe don dove drake drew duke
    dyer earl earnest east easter echo eve fair faith field fields finch fish fisher ford
    forest fox frank free fuller gale gay gene gill ginger glad glen gold golden good grace
    grant gray green grey gross guard guy hall hardy harmony hart hawk hay hazel heart hill
    holly honey hope house hunter iris ivy jack jay jewel jolly joy judge june just key king
    knight lake lamb land lane lark law lee lily little long lord love lucky luna major march
    mark marsh marshal marshall martin mason max may mayo meadow melody merry miles mill
    miller moon more moss new nick noble north nova olive page park pat patch pearl peg penny
    pierce pine porter post potter precious price prince rain ray read reed rice rich ring
    river rob robin rock rod rose ross ruby rush rusty sage saint sam sandy sawyer sea sharp
    shaw shepherd short silver sky sly small smith snow sonny south spring star stark steel
    sterling stone storm stormy strong sue summer sun sunny swan sweet swift tanner ted the
    tide tom trinity true trust turner van violet von wade walker wall ward warden warren wash
    water watt way weaver well wells west white will win winter wise wolf wood woods worth
    wren young
    """.split()  # noqa: SIM905
)

_NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_'\u2019.-]*(?:['\u2019-][^\W\d_]+)*\.?$")


def fold(text: str) -> str:
    """Case- and accent-insensitive form used to compare names ("Céline" ~ "celine")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_distinctive(word: str) -> bool:
    """Long enough and rare enough to match in any case without eating ordinary prose."""
    return len(word) >= 4 and fold(word) not in COMMON_WORDS


def looks_like_name_token(token: str) -> bool:
    """A capitalised word of letters (with inner ' or -), as a name is written."""
    return bool(_NAME_TOKEN.match(token)) and token[0].isupper()
