"""Digest assistant: cited question answering over research-paper digests."""

from typing import TYPE_CHECKING, Any

from .records import (
    Answer,
    Citation,
    IngestReport,
    Paper,
    Problem,
    Source,
    Turn,
    UnsupportedClaim,
)
from .settings import PRESETS, Settings, SettingsError

if TYPE_CHECKING:
    from .assistant import Assistant, AssistantError

__all__ = [
    "PRESETS",
    "Answer",
    "Assistant",
    "AssistantError",
    "Citation",
    "IngestReport",
    "Paper",
    "Problem",
    "Settings",
    "SettingsError",
    "Source",
    "Turn",
    "UnsupportedClaim",
]


def __getattr__(name: str) -> Any:
    # The facade pulls in llama-index, chromadb and openai (~2 s): loaded on first use, so the
    # CLI's --help and the light modules (records, settings) do not pay for it.
    if name in ("Assistant", "AssistantError"):
        from . import assistant as facade

        return getattr(facade, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
