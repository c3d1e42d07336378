"""The embedded model's constrained decoding: a JSON schema compiled to an llguidance grammar.

llguidance builds the grammar in milliseconds and computes each step's token mask lazily. outlines (used before)
compiled every per-item schema into an index over the whole 49k-token vocabulary first: 3-14 s a call, about a
quarter of `mira demo`'s time, since grounded schemas differ per item. llguidance also names the tokens the grammar
forces (an enum's remaining letters, the next key), which the decoder feeds in one forward pass.

JSON is compact and single-line (", " and ": " separators, no free whitespace: a small model otherwise pads with
newlines), and objects are closed: keys other than the schema's are refused, as `output_schema` states.

    >>> accepts({"type": "object", "properties": {"n": {"enum": [1, 2]}}, "required": ["n"]}, '{"n": 2}')
    True
"""

from __future__ import annotations

import json
from functools import lru_cache

from ..errors import InputError

OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": ", "lenient": True}


def grammar(schema: dict) -> str:
    """The llguidance grammar for a JSON schema (unknown keywords are ignored: the stage checks still read the
    answer)."""
    import llguidance

    return llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema), overrides=OPTIONS)


def matcher(tokenizer, schema: dict):
    """A fresh `LLMatcher` for one answer; a schema llguidance cannot build raises InputError with its reason."""
    import llguidance

    m = llguidance.LLMatcher(tokenizer, grammar(schema), log_level=0)
    if m.is_error():
        raise InputError(f"the output schema cannot be decoded under: {m.get_error()} (schema: "
                         f"{json.dumps(schema)[:300]})")
    return m


class _Bytes:
    """A tokenizer whose tokens are the 256 bytes (and an end token): for checking what a schema admits."""

    eos_token_id, bos_token_id = 256, None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [256]

    def __call__(self, data):
        return list(data if isinstance(data, bytes) else data.encode("utf-8"))


@lru_cache(maxsize=1)
def byte_tokenizer():
    import llguidance

    return llguidance.LLTokenizer(llguidance.TokenizerWrapper(_Bytes()))


def accepts(schema: dict, text: str) -> bool:
    """Whether decoding under `schema` can produce exactly `text` (the grammar the embedded model follows)."""
    m = matcher(byte_tokenizer(), schema)
    data = list(text.encode("utf-8"))
    return m.try_consume_tokens(data) == len(data) and m.is_accepting()
