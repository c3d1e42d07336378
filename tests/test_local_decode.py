"""How the embedded model decodes (synth/lm/local.py, grammar.py), on a scripted stand-in for the network: greedy
under the item's grammar, forced tokens fed in one pass, a penalty over the answer's own tokens only."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("llguidance")

from synth.lm.config import LMConfig  # noqa: E402
from synth.lm.grammar import accepts, byte_tokenizer  # noqa: E402
from synth.lm.local import LocalTransport, answer_penalty  # noqa: E402
from synth.lm.schema import output_schema  # noqa: E402

EOS = 256


class ByteModel:
    """A 'network' over byte tokens whose next-token logits come from `prefer(text so far)`; it records each
    forward pass's length."""

    def __init__(self, prefer):
        self.prefer, self.passes, self.seen = prefer, [], []
        self.config = type("C", (), {"vocab_size": 257})()

    def __call__(self, input_ids, past_key_values=None, use_cache=True):
        ids = input_ids[0].tolist()
        self.passes.append(len(ids))
        self.seen += ids
        logits = torch.zeros(1, len(ids), 257)
        for tok, score in self.prefer(bytes(t for t in self.seen if t < 256).decode("utf-8", "replace")).items():
            logits[0, -1, tok] = score
        return type("Out", (), {"logits": logits})()


class ByteTok:
    eos_token_id = EOS

    def apply_chat_template(self, msgs, **kw):
        return "".join(m["content"] for m in msgs) + "|"

    def __call__(self, text):
        return {"input_ids": list(text.encode("utf-8"))}

    def decode(self, ids, skip_special_tokens=True):
        return bytes(i for i in ids if i < 256).decode("utf-8")


def transport(prefer) -> LocalTransport:
    t = LocalTransport(LMConfig())
    t._model, t._tok, t._lltok = ByteModel(prefer), ByteTok(), byte_tokenizer()
    return t


TITLE = {"type": "object", "properties": {"title": {"type": "string", "enum": ["Senior Data Engineer", "Nurse"]}},
         "required": ["title"], "additionalProperties": False}


def test_forced_tokens_share_one_forward_pass():
    """Only the choice between the two titles is the model's: '{"title": "' is forced after '{', the rest of
    'Nurse"}' after 'N', which ends the answer: two passes (the prompt, then '{' and what it forces) decode 18
    tokens."""
    t = transport(lambda text: {ord("N"): 5.0})
    r = t.generate([{"role": "user", "content": "job"}], TITLE, 100)
    assert r.text.startswith("[[ ## title ## ]]\nNurse") and r.finish_reason == "stop"
    assert r.usage["completion_tokens"] == len('{"title": "Nurse"}')
    assert t._model.passes == [len("job|"), len('{"title": "')]
    assert t.compiles == 1 and t.forward_passes == 2


def test_a_token_the_grammar_refuses_is_never_taken():
    """The model wants 'X' everywhere; the grammar only lets it pick a title (the first allowed byte wins ties)."""
    t = transport(lambda text: {ord("X"): 9.0, ord("S"): 1.0})
    r = t.generate([{"role": "user", "content": "job"}], TITLE, 100)
    assert "Senior Data Engineer" in r.text and "X" not in r.text


def test_an_answer_cut_at_max_tokens_is_reported_as_length():
    free = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 400}}, "required": ["text"],
            "additionalProperties": False}
    t = transport(lambda text: {ord("a"): 5.0})
    r = t.generate([{"role": "user", "content": "job"}], free, 20)
    assert r.finish_reason == "length" and r.usage["completion_tokens"] == 20


def test_free_text_stops_at_the_end_token():
    t = transport(lambda text: {EOS: 9.0} if text.endswith("hi") else {ord("h") if text.endswith("|") else ord("i"): 5})
    r = t.generate([{"role": "user", "content": "job"}], None, 50)
    assert r.text == "hi" and r.finish_reason == "stop"


def test_the_penalty_counts_only_the_answer_once_per_token():
    """transformers' penalty also hits every prompt token, which pushed SmolLM2 off English; ours counts the
    answer's tokens only (sign-aware, as in CTRL): a positive logit is divided, a negative one multiplied."""
    s = torch.tensor([2.0, -2.0, 2.0, -2.0, 1.0])
    assert answer_penalty(s, [], 2.0).tolist() == s.tolist()
    assert answer_penalty(s, [2, 3, 3], 2.0).tolist() == [2.0, -2.0, 1.0, -4.0, 1.0]
    assert answer_penalty(s, [2, 3], 1.0).tolist() == s.tolist()
    assert s.tolist() == [2.0, -2.0, 2.0, -2.0, 1.0]  # the caller's logits are not changed in place


def test_output_schemas_are_closed_at_every_level():
    """JSON Schema leaves objects open: under an open nested object SmolLM2 kept adding keys to the judge's scores
    until the token limit. Every object of a Signature's schema refuses other keys."""
    from judge.module import Judge
    from judge.rubric import load_rubric

    schema = output_schema(Judge(load_rubric()).predict.signature)
    scores = schema["properties"]["scores"]
    ok = {"scores": {d: {"score": 50, "rationale": "r"} for d in scores["properties"]}, "verdicts": [],
          "risks": []}
    ok = {k: ok.get(k, "") for k in schema["properties"]}
    assert accepts(schema, json.dumps(ok, separators=(", ", ": ")))
    extra = json.loads(json.dumps(ok))
    extra["scores"]["career"]["description"] = "x"
    assert not accepts(schema, json.dumps(extra, separators=(", ", ": ")))
    assert not accepts(schema, json.dumps({**ok, "note": "x"}, separators=(", ", ": ")))
