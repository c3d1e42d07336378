"""`--model` specs are parsed once (train/spec.py): MODEL, MODEL+HEAD, or a head given apart."""

import pytest

from synth.errors import InputError
from train.spec import ModelSpec


def test_model_and_head_inline_or_apart():
    assert ModelSpec.parse("models/r2+models/head") == ModelSpec("models/r2", "models/head")
    assert ModelSpec.parse("models/r2", head="models/head") == ModelSpec("models/r2", "models/head")
    assert ModelSpec.parse("models/r2+models/head", head="models/head/") == ModelSpec("models/r2", "models/head")
    assert str(ModelSpec.parse("models/r2", head="h")) == "models/r2+h"
    assert ModelSpec.parse("zero-shot").zero_shot and not ModelSpec.parse("models/r2").zero_shot


def test_labels_and_slugs_name_the_folder_and_the_head():
    assert ModelSpec.parse("/tmp/x/My R2+/tmp/h").label == "My R2 + head"
    assert ModelSpec.parse("/tmp/x/My R2+/tmp/h").slug == "my-r2-head"
    assert ModelSpec.parse("/tmp/x/My R2").slug == "my-r2"


@pytest.mark.parametrize("bad", ["+head", "models/r2+", " "])
def test_malformed_specs_say_how_to_write_one(bad):
    with pytest.raises(InputError, match="optionally \\+HEAD_FOLDER"):
        ModelSpec.parse(bad)


def test_two_different_heads_are_refused():
    with pytest.raises(InputError, match="give one"):
        ModelSpec.parse("m+h1", head="h2")
