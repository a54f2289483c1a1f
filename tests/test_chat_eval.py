"""The chat eval (eval/chat_sessions.py): its sets are well formed, and a replay feeds each turn
the assistant's own earlier answers, as the chat UI does."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from types import ModuleType

import pytest
from conftest import REPO, SEEDS

from assistant import Assistant

KINDS = {"papers", "refuse", "none", "index", "skip"}


def chat_eval() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "chat_sessions", REPO / "eval" / "chat_sessions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["chat_dev.jsonl", "chat_heldout.jsonl", "chat_heldout2.jsonl"])
def test_every_chat_set_is_well_formed(name: str) -> None:
    seed_ids = set(
        re.findall(
            r"arxiv\.org/abs/(\d{4}\.\d{4,5})",
            "".join(p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")),
        )
    )
    lines = (REPO / "eval" / name).read_text(encoding="utf-8").splitlines()
    sessions = [json.loads(line) for line in lines]
    assert len({s["id"] for s in sessions}) == len(sessions) >= 15
    for s in sessions:
        assert len(s["turns"]) >= 6, s["id"]
        for t in s["turns"]:
            assert t["q"].strip() and t["expect"] in KINDS, (s["id"], t)
            assert set(t.get("gold", [])) <= seed_ids, (s["id"], t["q"])
            if t["expect"] == "papers":
                assert t["gold"], (s["id"], t["q"])
            if t["expect"] in ("none", "skip"):
                assert not t.get("gold"), (s["id"], t["q"])


def test_a_replay_asks_each_turn_with_the_answers_before_it(assistant: Assistant) -> None:
    session = {
        "id": "T",
        "turns": [
            {"q": "UCFE 是什么？", "expect": "papers", "gold": ["2410.14059"]},
            {"q": "它的用户研究有多少名参与者？", "expect": "papers", "gold": ["2410.14059"]},
            {"q": "What is the capital of France?", "expect": "papers", "gold": ["2410.14059"]},
        ],
    }
    first, follow_up, off_topic = chat_eval().replay(assistant, session)
    assert first.right and first.answer.retrieval_query is None
    # Resolved with the first answer's paper: only the history can have brought UCFE's title.
    assert follow_up.right and "UCFE" in (follow_up.answer.retrieval_query or "")
    assert "804" in follow_up.answer.text
    assert off_topic.answer.refused and not off_topic.right  # labelled wrongly on purpose


def test_the_replay_scores_each_kind(assistant: Assistant) -> None:
    module = chat_eval()
    session = {
        "id": "K",
        "turns": [
            {"q": "What papers do you have?", "expect": "index", "gold": ["2410.14059"]},
            {"q": "thanks!", "expect": "none"},
            {"q": "Who wrote PUMA?", "expect": "refuse"},
        ],
    }
    assert [t.right for t in module.replay(assistant, session)] == [True, True, True]
