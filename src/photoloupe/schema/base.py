"""The base of every public model: strict fields, and JSON with the public field names."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ContractModel(BaseModel):
    """A model of a public contract.

    Extra keys are refused so that a typo in the library fails a test instead of shipping;
    JSON uses the public names (`schema`, not `schema_id`).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self, *, indent: int | None = None) -> str:
        return self.model_dump_json(by_alias=True, indent=indent)
