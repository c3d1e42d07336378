"""DSPy's ChatAdapter with the Signature's fixed prompt part formatted once.

The system message (field descriptions, field structure, task instructions) depends only on the Signature, yet
`ChatAdapter.format` rebuilds it for every call, building pydantic TypeAdapters along the way: most of the runner's
client CPU per call. This adapter keeps the text per Signature, and formats plain-string inputs (every stage's
inputs) without a pydantic round trip (DSPy builds a TypeAdapter per value, ~0.3 ms); the messages are the same
strings DSPy would send (tested).
"""

from __future__ import annotations

import dspy

MAX_SIGNATURES = 256


class CachedChatAdapter(dspy.ChatAdapter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._system: dict[type, str] = {}
        self._parts: dict[type, tuple] = {}

    def format_system_message(self, signature) -> str:
        text = self._system.get(signature)
        if text is None:
            if len(self._system) >= MAX_SIGNATURES:
                self._system.clear()
            text = self._system[signature] = super().format_system_message(signature)
        return text

    def _signature_parts(self, signature) -> tuple:
        parts = self._parts.get(signature)
        if parts is None:
            if len(self._parts) >= MAX_SIGNATURES:
                self._parts.clear()
            parts = self._parts[signature] = (tuple(signature.input_fields),
                                              super().user_message_output_requirements(signature))
        return parts

    def user_message_output_requirements(self, signature) -> str:
        return self._signature_parts(signature)[1]

    def format_user_message_content(self, signature, inputs: dict, prefix: str = "", suffix: str = "",
                                    main_request: bool = False) -> str:
        names, requirements = self._signature_parts(signature)
        if not all(isinstance(inputs[k], str) for k in names if k in inputs):
            return super().format_user_message_content(signature, inputs, prefix, suffix, main_request)
        messages = [prefix] + [f"[[ ## {k} ## ]]\n{inputs[k]}" for k in names if k in inputs]
        if main_request and requirements is not None:
            messages.append(requirements)
        messages.append(suffix)
        return "\n\n".join(messages).strip()
