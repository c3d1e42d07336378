"""Paths that used to go quiet (#27 item 4): each now fails with its reason instead of running on a fallback."""

from __future__ import annotations

import json

import dspy
import pytest
import torch

from mira.cli.demo import import_samples
from synth.errors import InputError
from synth.lm.schema import GroundingPathError, ground_schema, output_schema
from synth.runner.calls import direct_predictor
from synth.split import split_version
from synth.stages import paraphrase
from synth.stages.common import PromptedModule
from train.scorer import Scorer, make_scorer
from train.head import PairHead


# -- grounding paths -------------------------------------------------------------------------------------------
def test_a_grounding_path_that_names_no_field_fails_when_the_stage_is_defined():
    class Renamed(dspy.Signature):
        anchor: str = dspy.InputField()
        body: str = dspy.OutputField()  # was `text`: the stage's grounding of `text` would go quiet

    with pytest.raises(GroundingPathError, match="text.*fields: body"):
        class Stage(PromptedModule):  # noqa: F841 - defining it is the test
            signature = Renamed
            prompt_name = "jd/paraphrase"
            grounded = ("text",)


def test_a_task_grounding_a_missing_field_is_an_error_not_a_free_decode():
    schema = output_schema(paraphrase.ParaphraseAnchor)
    assert ground_schema(schema, {"title": ["Nurse"]})["properties"]["title"]["enum"] == ["Nurse"]
    with pytest.raises(GroundingPathError, match="job_title"):
        ground_schema(schema, {"job_title": ["Nurse"]})
    with pytest.raises(GroundingPathError, match=r"title\[\]"):  # a list step on a string field
        ground_schema(schema, {"title[]": ["Nurse"]})


# -- direct ------------------------------------------------------------------------------------------------------
def test_direct_is_not_inherited_by_a_subclass_with_its_own_forward():
    class Louder(paraphrase.Paraphrase):
        def forward(self, **inputs):
            out = self.predict(**inputs)
            return dspy.Prediction(text=out.text.upper(), title=out.title)

    class AsyncOwn(paraphrase.Paraphrase):
        async def aforward(self, **inputs):
            return await self.predict.acall(**inputs)

    class SaysItAgain(Louder):
        direct = True  # a subclass may say it of its own forward

    assert direct_predictor(paraphrase.Paraphrase()) is not None
    assert direct_predictor(Louder()) is None and direct_predictor(AsyncOwn()) is None
    assert direct_predictor(SaysItAgain()) is not None


# -- splits ------------------------------------------------------------------------------------------------------
def test_a_split_that_cannot_resolve_a_parent_fails_with_the_reason(store):
    import_samples(store)
    pool = store.resolve("sample-rjdb")
    refs = {**pool.manifest["refs"], "jds": "gone-jds@0123456789ab"}
    broken = store.write("broken-pool", "pool", pool.records(), manifest={"refs": refs})
    with pytest.raises(InputError, match="gone-jds@0123456789ab.*--by jd"):
        split_version(store, broken.ref, "employer", (0.5, 0.5))
    parts = split_version(store, broken.ref, "jd", (0.5, 0.5))  # grouping by JD needs no parent
    assert sum(p.count for p in parts) == pool.count


# -- evaluation config -------------------------------------------------------------------------------------------
def test_a_broken_model_config_is_an_error_not_an_empty_query_prompt(tmp_path):
    s = Scorer("m", str(tmp_path))
    assert s.query_prompt() == ""  # no sentence-transformers config: no prompt
    (tmp_path / "config_sentence_transformers.json").write_text('{"prompts": {"query": "Query: "}}')
    assert s.query_prompt() == "Query: "
    (tmp_path / "config_sentence_transformers.json").write_text('{"prompts": {"query": ')
    with pytest.raises(InputError, match="config_sentence_transformers.json"):
        s.query_prompt()


def test_a_head_without_lambda_is_an_error_not_lambda_0_1(tmp_path):
    head = PairHead(384)
    torch.save(head.state_dict(), tmp_path / "head.pt")
    info = {"dim": 384, "hidden": 256, "dropout": 0.1}
    (tmp_path / "head.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match="no 'lambda'.*--lambda"):
        make_scorer(f"zero-shot+{tmp_path}")
    assert make_scorer(f"zero-shot+{tmp_path}", lam=0.3).lam == 0.3
    (tmp_path / "head.json").write_text(json.dumps({**info, "lambda": 0.075}))
    assert make_scorer(f"zero-shot+{tmp_path}").lam == 0.075
