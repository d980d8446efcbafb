"""The public contract: the schema is documented field by field, and both languages are whole."""

from __future__ import annotations

import re

from pydantic import BaseModel

from photoloupe.i18n import LANGS, catalogue
from photoloupe.schema import report as schema
from tests.conftest import ROOT


def _models() -> list[type[BaseModel]]:
    return [
        obj
        for obj in vars(schema).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == schema.__name__
    ]


def test_every_schema_field_is_documented() -> None:
    doc = (ROOT / "docs" / "report-schema.md").read_text("utf-8")
    documented = set(re.findall(r"`([a-z_0-9]+)`", doc))
    missing = {
        f"{model.__name__}.{field.alias or name}"
        for model in _models()
        for name, field in model.model_fields.items()
        if (field.alias or name) not in documented
    }
    assert not missing, f"document these fields in docs/report-schema.md: {sorted(missing)}"


def test_every_language_has_every_key_and_no_empty_text() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGS}
    assert keys["en"] == keys["ar"]
    for lang in LANGS:
        assert all(text.strip() for text in catalogue(lang).values()), lang


def test_arabic_text_is_arabic() -> None:
    arabic = re.compile(r"[\u0600-\u06FF]")
    untranslated = [k for k, v in catalogue("ar").items() if not arabic.search(v)]
    assert not untranslated, untranslated


def test_placeholders_match_between_languages() -> None:
    field = re.compile(r"\{(\w+)\}")
    for key, text in catalogue("en").items():
        assert set(field.findall(text)) == set(field.findall(catalogue("ar")[key])), key
