"""Digest assistant: cited question answering over research-paper digests."""

from .assistant import Assistant, AssistantError
from .records import Answer, Citation, IngestReport, Paper, Problem, Source, Turn
from .settings import PRESETS, Settings

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
    "Source",
    "Turn",
]
