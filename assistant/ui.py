"""Browser chat (Gradio): placeholder until the full UI lands."""

from __future__ import annotations

from .assistant import Assistant


def launch(assistant: Assistant, host: str | None = None, port: int | None = None) -> None:
    import gradio as gr

    assistant.ensure_indexed()

    def respond(message: str, history: list[dict]) -> str:
        return assistant.ask(message, history).text

    demo = gr.ChatInterface(respond, title="Digest assistant")
    demo.launch(
        server_name=host or assistant.settings.host, server_port=port or assistant.settings.port
    )
