"""Backbones the paper and users bring, as tiny randomly initialised models built offline from configs (BERT,
XLM-RoBERTa, Qwen3, MPNet): LoRA targets from the modules the model has, R1 and R2 for a couple of steps, merge,
reload with plain sentence-transformers; RoBERTa-style position tables capped at 512; Qwen3's query prompt on the
JD side, recorded in the saved model."""

import json

import pytest
import torch

from synth.records import stable_id
from train.backbones import load_encoder, lora_targets, position_limit
from train.config import R1Config, R2Config, load_config
from train.rounds import train_r1, train_r2

QUERY = "Instruct: Given a job description, retrieve the CVs of people who meet it\nQuery: "
TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=30522)


def _config(kind):
    import transformers as tf

    if kind == "bert":
        return tf.BertConfig(max_position_embeddings=512, **TINY)
    if kind == "xlm-roberta":
        return tf.XLMRobertaConfig(max_position_embeddings=514, pad_token_id=1, **TINY)
    if kind == "mpnet":
        return tf.MPNetConfig(max_position_embeddings=514, pad_token_id=1, **TINY)
    return tf.Qwen3Config(num_key_value_heads=1, head_dim=16, max_position_embeddings=4096, **TINY)


def build(kind, path):
    """A sentence-transformers folder: a random `kind` model, the MiniLM tokenizer, mean pooling (Qwen3: prompts)."""
    import transformers as tf
    from sentence_transformers import SentenceTransformer, models

    from train.backbones import resolve_base

    torch.manual_seed(0)
    tok = tf.AutoTokenizer.from_pretrained(resolve_base(None))
    hf = tf.AutoModel.from_config(_config(kind))
    raw = path / "hf"
    hf.save_pretrained(raw)
    tok.save_pretrained(raw)
    enc = models.Transformer(str(raw), max_seq_length=4096 if kind == "qwen3" else 2048)
    prompts = {"query": QUERY, "document": ""} if kind == "qwen3" else None
    st = SentenceTransformer(modules=[enc, models.Pooling(32, "mean")], device="cpu", prompts=prompts)
    st.save(str(path / "st"))
    return str(path / "st")


@pytest.fixture
def rjdb_small(store):
    from mira.cli.demo import import_samples
    from train.data import r2_triplets

    import_samples(store)
    trip = r2_triplets(store, store.resolve("sample-rjdb"))[:8]
    return store.write("rjdb8", "jdcv_triplet", [
        {"id": stable_id("jdcv_triplet", t.query + t.positive), "kind": "jdcv_triplet", "jd_id": t.group,
         "jd": t.query, "positive": t.positive, "negative": t.negative, "generator": "imported",
         "negative_type": "rjdb_unmatched", "lineage": {"stage": "import", "source_ids": [t.group]}} for t in trip])


def _pairs(store):
    recs = []
    for i, (title, skill) in enumerate([("Data Engineer", "Spark"), ("Nurse", "ICU care"), ("Accountant", "audit"),
                                        ("Chef", "French cuisine")]):
        a = f"jd_anchor-{i:016x}"
        card = f"Title: {title}\nMust: years_experience: 5 years\nSkills: {skill}"
        for kind, text in (("card", f"{title}. 5 years. {skill}."), ("paraphrase", f"Hiring: {title}, {skill}."),
                           ("boundary", f"Junior {title} assisting with {skill}."),
                           ("constraint", f"{title} with 1 year of {skill}.")):
            recs.append({"id": stable_id("jd_pair", kind + a + text), "kind": "jd_pair", "anchor_id": a,
                         "jd_id": "jd-" + a[-16:], "anchor_text": card, "text": text, "type": kind,
                         "label": "positive" if kind in ("card", "paraphrase") else "negative", "structured": {},
                         "lineage": {"stage": kind, "source_ids": []}})
    return store.write("tiny-pairs", "jd_pair", recs)


EXPECTED_TARGETS = {"bert": ["query", "key", "value", "dense"], "xlm-roberta": ["query", "key", "value", "dense"],
                    "mpnet": ["q", "k", "v", "o"],
                    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}


@pytest.mark.parametrize("kind", sorted(EXPECTED_TARGETS))
def test_r1_and_r2_train_merge_and_reload(kind, tmp_path, store, rjdb_small):
    from sentence_transformers import SentenceTransformer

    base = build(kind, tmp_path)
    model = load_encoder(base, "cpu", 2048)
    assert lora_targets(model) == EXPECTED_TARGETS[kind]
    if kind in ("xlm-roberta", "mpnet"):  # 514 positions with RoBERTa's offset: 512 usable
        assert position_limit(model[0].model.config) == 512 and model.max_seq_length == 512
    r2 = load_config(R2Config, epochs=1, batch_size=4, lr=1e-3, val_fraction=0.0, precision="fp32")  # default 2048
    res = train_r2(store, rjdb_small.ref, base, tmp_path / "r2", r2)
    assert res.manifest["backbone"]["lora_targets"] == EXPECTED_TARGETS[kind]
    r1 = load_config(R1Config, batch_size=4, lr=1e-3, precision="fp32", stage_epochs={"card": 1, "align": 1,
                                                                                       "rank": 1})
    train_r1(store, _pairs(store).ref, str(tmp_path / "r2"), tmp_path / "r1", r1)
    reloaded = SentenceTransformer(str(tmp_path / "r1"), device="cpu")
    assert reloaded.encode(["Senior data engineer"]).shape == (1, 32)
    long_cv = " ".join(["experienced engineer delivering data platforms"] * 400)  # far beyond 514 tokens
    assert load_encoder(str(tmp_path / "r1"), "cpu").encode([long_cv]).shape == (1, 32)


def test_qwen3_query_prompt_is_used_on_jds_and_saved(tmp_path, store, rjdb_small):
    from sentence_transformers import SentenceTransformer

    base = build("qwen3", tmp_path)
    res = train_r2(store, rjdb_small.ref, base, tmp_path / "r2",
                   load_config(R2Config, epochs=1, batch_size=4, lr=1e-3, val_fraction=0.0, precision="fp32"))
    assert res.manifest["backbone"]["query_prompt_name"] == "query"
    assert res.manifest["backbone"]["query_prompt"] == QUERY
    saved = SentenceTransformer(str(tmp_path / "r2"), device="cpu")
    assert saved.prompts["query"] == QUERY
    jd = "Data engineer, 5 years of Spark"
    with_prompt = saved.encode([jd], prompt_name="query")
    assert not torch.allclose(torch.tensor(with_prompt), torch.tensor(saved.encode([jd])))
    # plain sentence-transformers' encode_query puts the JD-side prompt first, as R2 trained
    torch.testing.assert_close(torch.tensor(saved.encode_query([jd])), torch.tensor(saved.encode([QUERY + jd])))
    from train.scorer import Scorer

    sc = Scorer("r2", str(tmp_path / "r2"))
    assert sc.query_prompt() == QUERY


def test_trust_remote_code_is_an_explicit_recorded_opt_in(tmp_path, store, rjdb_small):
    base = build("bert", tmp_path)
    cfg = load_config(R2Config, epochs=1, batch_size=4, lr=1e-3, val_fraction=0.0, precision="fp32",
                      trust_remote_code=True)
    res = train_r2(store, rjdb_small.ref, base, tmp_path / "r2", cfg)
    m = json.loads((tmp_path / "r2" / "mira_train.json").read_text())
    assert m["config"]["trust_remote_code"] is True and res.manifest["backbone"]["trust_remote_code"] is True
    assert load_config(R2Config).trust_remote_code is False


def test_lora_target_override_must_name_real_modules(tmp_path):
    from synth.errors import InputError

    model = load_encoder(build("bert", tmp_path), "cpu", 64)
    assert lora_targets(model, ["query", "value"]) == ["query", "value"]
    with pytest.raises(InputError, match="not module names"):
        lora_targets(model, ["fc1"])


def test_jina_v3_layout_gets_the_papers_targets_despite_its_model_type():
    """Jina v3 reports model_type 'xlm-roberta' but its blocks are Wqkv / out_proj / fc1 / fc2 (plus dense)."""
    from types import SimpleNamespace

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.Wqkv, self.out_proj = torch.nn.Linear(4, 12), torch.nn.Linear(4, 4)
            self.fc1, self.fc2, self.dense = torch.nn.Linear(4, 8), torch.nn.Linear(8, 4), torch.nn.Linear(4, 4)

    inner = Block()
    inner.config = SimpleNamespace(model_type="xlm-roberta")
    assert lora_targets([SimpleNamespace(model=inner)]) == ["dense", "out_proj", "fc1", "fc2"]


REMOTE_CONFIG = '''
from transformers import PretrainedConfig


class TinyRemoteConfig(PretrainedConfig):
    model_type = "tiny_remote"

    def __init__(self, vocab_size=30522, hidden_size=32, max_position_embeddings=512, **kw):
        super().__init__(**kw)
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.max_position_embeddings = max_position_embeddings
'''

REMOTE_MODEL = '''
import torch
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from .configuration_tiny import TinyRemoteConfig


class Block(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.Wqkv, self.out_proj = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d)
        self.fc1, self.fc2, self.dense = torch.nn.Linear(d, 2 * d), torch.nn.Linear(2 * d, d), torch.nn.Linear(d, d)

    def forward(self, x, mask):
        q, k, v = self.Wqkv(x).chunk(3, -1)
        att = (q @ k.transpose(1, 2)).masked_fill(mask[:, None, :] == 0, -1e4).softmax(-1)
        x = x + self.out_proj(att @ v)
        return self.dense(x + self.fc2(torch.nn.functional.gelu(self.fc1(x))))


class TinyRemoteModel(PreTrainedModel):
    config_class = TinyRemoteConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = torch.nn.Embedding(config.vocab_size, config.hidden_size)
        self.block = Block(config.hidden_size)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **kw):
        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        return BaseModelOutput(last_hidden_state=self.block(self.embed(input_ids), mask))
'''


def build_remote(path):
    """A folder whose model is defined by its own code (auto_map), like Jina v3: loads only with remote code."""
    import transformers as tf
    from sentence_transformers import SentenceTransformer, models

    from train.backbones import resolve_base

    raw = path / "remote"
    raw.mkdir()
    (raw / "configuration_tiny.py").write_text(REMOTE_CONFIG)
    (raw / "modeling_tiny.py").write_text(REMOTE_MODEL)
    cfg = {"model_type": "tiny_remote", "architectures": ["TinyRemoteModel"], "vocab_size": 30522,
           "hidden_size": 32, "max_position_embeddings": 512,
           "auto_map": {"AutoConfig": "configuration_tiny.TinyRemoteConfig", "AutoModel": "modeling_tiny.TinyRemoteModel"}}
    (raw / "config.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    model = tf.AutoModel.from_config(tf.AutoConfig.from_pretrained(str(raw), trust_remote_code=True),
                                     trust_remote_code=True)
    model.save_pretrained(raw)
    tf.AutoTokenizer.from_pretrained(resolve_base(None)).save_pretrained(raw)
    enc = models.Transformer(str(raw), max_seq_length=128, model_args={"trust_remote_code": True},
                             config_args={"trust_remote_code": True})
    SentenceTransformer(modules=[enc, models.Pooling(32, "mean")], device="cpu").save(str(path / "st"))
    return str(path / "st")


def test_remote_code_model_needs_the_flag_and_trains_with_the_papers_targets(tmp_path, store, rjdb_small):
    from synth.errors import InputError

    base = build_remote(tmp_path)
    with pytest.raises(InputError, match="--trust-remote-code"):
        load_encoder(base, "cpu")
    model = load_encoder(base, "cpu", trust_remote_code=True)
    assert lora_targets(model) == ["dense", "out_proj", "fc1", "fc2"]
    cfg = load_config(R2Config, epochs=1, batch_size=4, lr=1e-3, val_fraction=0.0, precision="fp32",
                      trust_remote_code=True)
    res = train_r2(store, rjdb_small.ref, base, tmp_path / "r2", cfg)
    assert res.manifest["backbone"]["lora_targets"] == ["dense", "out_proj", "fc1", "fc2"]
    assert load_encoder(str(tmp_path / "r2"), "cpu", trust_remote_code=True).encode(["a JD"]).shape == (1, 32)
