"""Message catalogues for human-facing text, English and Arabic.

Every string a person reads comes from `<lang>.json` beside this module, keyed by a stable
identifier, so a test can check that each key exists in every language. It sits below the
renderers: the verdict and the comparison write their sentences in both languages too.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

Lang = Literal["en", "ar"]
LANGS: tuple[Lang, ...] = ("en", "ar")


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The flat key -> text mapping of one language."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGS)}")
    text = resources.files("photoloupe.i18n").joinpath(f"{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def t(key: str, lang: str = "en", **values: object) -> str:
    """Translate `key` into `lang`, filling `{name}` placeholders from `values`.

    A key missing from a language falls back to English rather than failing a report; the test
    suite makes sure no key is missing.

    >>> t("verdict.label.inconclusive", "en")
    'Inconclusive'
    """
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue("en").get(key, key)
    return text.format(**values) if values else text
