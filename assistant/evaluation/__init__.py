"""Grounding evals: retrieval, citation, faithfulness, correctness and refusal metrics over the
question set in eval/, with pluggable support judges (offline or LLM). See eval/README.md.

Submodules are imported on demand so `python -m assistant.evaluation.judge` runs cleanly."""
