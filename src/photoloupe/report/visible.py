"""File names as a reader should see them: direction and control characters made visible.

A name that holds U+202E (right-to-left override) shows its end reversed, so
"photo\u202egpj.exe" reads as "photoexe.jpg". `<bdi>` isolates a name from the page around it,
but not from the overrides inside it, so those are replaced by a visible token.

>>> visible_name("photo\u202egpj.exe")
'photo⟨U+202E⟩gpj.exe'
>>> visible_name("harbour.jpg")
'harbour.jpg'
"""

from __future__ import annotations

import re

# C0 and C1 controls, the Arabic letter mark, zero-width characters and marks, the bidi
# embeddings, overrides and isolates, word joiners and the byte-order mark.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def visible_name(text: str) -> str:
    """`text` with every hidden or direction-changing character shown as ⟨U+XXXX⟩."""
    return _HIDDEN.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)
