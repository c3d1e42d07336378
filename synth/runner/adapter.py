"""DSPy's ChatAdapter with the Signature's fixed prompt part formatted once.

The system message (field descriptions, field structure, task instructions) depends only on the Signature, yet
`ChatAdapter.format` rebuilds it for every call, building pydantic TypeAdapters along the way: most of the runner's
client CPU per call. This adapter keeps the text per Signature; the messages are the same strings DSPy would send.
"""

from __future__ import annotations

import dspy

MAX_SIGNATURES = 256


class CachedChatAdapter(dspy.ChatAdapter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._system: dict[type, str] = {}

    def format_system_message(self, signature) -> str:
        text = self._system.get(signature)
        if text is None:
            if len(self._system) >= MAX_SIGNATURES:
                self._system.clear()
            text = self._system[signature] = super().format_system_message(signature)
        return text
