"""English words that are also people's names, and the shape of a name-like token.

A roster name that is also an everyday word ("Will", "Grant", "Price") is matched only when
written as a name (capitalised), so "we will grant access" keeps its words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

COMMON_WORDS: Final = frozenset(
    ["able", "about", "after", "again", "all", "also", "and", "any", "april", "art", "august", "bank", "banks", "barber", "baker", "bell", "best", "bill", "bird", "bishop", "black", "blue", "bond", "boss", "brand", "bright", "brook", "brooks", "brown", "bush", "butler", "button", "can", "cash", "case", "chance", "chase", "chef", "church", "clay", "cliff", "cloud", "cole", "cook", "cooper", "cross", "dale", "dash", "day", "dean", "dew", "don", "doe", "dove", "drew", "duke", "earl", "east", "easter", "eve", "fair", "faith", "field", "fields", "fish", "fisher", "ford", "forest", "fox", "frank", "free", "gale", "gay", "gene", "glad", "glen", "gold", "golden", "good", "gray", "green", "grey", "guy", "hall", "hardy", "hart", "hay", "heart", "hill", "holly", "hope", "hunter", "ivy", "jack", "jay", "joy", "judge", "june", "just", "key", "king", "knight", "lake", "lamb", "land", "lane", "lark", "law", "lee", "little", "long", "love", "lucky", "major", "march", "mark", "marsh", "mason", "may", "mayo", "meadow", "miles", "mill", "miller", "moon", "more", "moss", "new", "nick", "noble", "north", "page", "park", "patch", "pierce", "pine", "post", "price", "prince", "rain", "ray", "read", "reed", "rich", "rice", "ring", "river", "rob", "rock", "rose", "ross", "rush", "sage", "sam", "saint", "sea", "sharp", "shaw", "short", "silver", "sky", "small", "smith", "snow", "south", "spring", "star", "stark", "steel", "stone", "storm", "summer", "sun", "swift", "tanner", "the", "tide", "tom", "true", "trust", "van", "von", "walker", "wall", "ward", "warren", "wash", "water", "watt", "way", "well", "wells", "west", "white", "will", "win", "winter", "wolf", "wood", "woods", "worth", "wren", "young"]
)

_NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:['’-][^\W\d_]+)*\.?$")


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
