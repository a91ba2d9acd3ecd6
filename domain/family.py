"""家庭主要成员及重要社会关系 (seed 001 附件1 note 8: “填写配偶、子女、父母等”).

A member may have several rows: relation, name, work unit, phone. They are
the first 知情人 the search suggests (SPEC §4, channel group 2). The fields
are a questionnaire, so the chat walk and the roster import ask the same. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.codes import Relation
from domain.questionnaires import FAMILY

MAX_ROWS = 20  # a card, not a family tree: more is surely a mistake


@dataclass(frozen=True)
class Relative:
    """One row of 家庭主要成员及重要社会关系."""

    relation: str
    name: str
    work_unit: str | None = None
    phone: str | None = None

    def line(self) -> str:
        parts = [
            Relation.of(self.relation).label,
            self.name,
            self.work_unit or "",
            self.phone or "",
        ]
        return " ".join(p for p in parts if p)

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Relative:
        return cls(values["relation"], values["name"], values.get("work_unit"), values.get("phone"))


def parse_relative(texts: Mapping[str, str | None], *, today: date) -> Relative:
    """Cell or typed texts by field key → a Relative; raises InvalidInput."""
    return Relative.of(
        {spec.key: spec.parse(texts.get(spec.key) or "", today=today) for spec in FAMILY.fields}
    )
