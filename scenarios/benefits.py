"""Benefit rules every room reads the same way: which causes of death bring emergency funeral
support (fakes pay it, reconciliation and certify check it; the amounts are ``Scenario.money``)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["EMERGENCY_CAUSES", "is_emergency_cause"]

#: Causes of death that bring emergency funeral support (DOMAIN.md §6: "deaths from disaster,
#: fire, epidemic, traffic or serious work accident", ND 20/2021 Art. 14 [V]), matched as words
#: in the death notice's free-text cause (lower case, NFC). Whether a work accident was
#: "serious" is not checked [U]; "Tai nạn khác" (another accident) does not qualify [U].
EMERGENCY_CAUSES: tuple[str, ...] = (
    "tai nạn giao thông", "thiên tai", "hỏa hoạn", "hoả hoạn", "cháy", "dịch bệnh",
    "tai nạn lao động", "lũ", "bão",
)  # fmt: skip


def is_emergency_cause(cause: str | None) -> bool:
    """Whether a death notice's ``cause`` is one of :data:`EMERGENCY_CAUSES`."""
    if not cause:
        return False
    text = unicodedata.normalize("NFC", cause).lower()
    return any(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", text) for k in EMERGENCY_CAUSES)
