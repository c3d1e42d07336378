import pytest

from synth.errors import SchemaError
from synth.records import normalize_text, stable_id, validate


def test_normalize_text_collapses_spaces_controls_and_blank_lines():
    raw = "  Senior\u00a0 Engineer\t\r\n\r\n\r\n\r\nBuilds   things\u200b\x07  \n"
    assert normalize_text(raw) == "Senior Engineer\n\nBuilds things"


def test_normalize_text_nfkc():
    assert normalize_text("ﬁnance ＡＩ") == "finance AI"


def test_stable_id_depends_on_normalised_text_only():
    assert stable_id("jd", "Data  Scientist\n") == stable_id("jd", "Data Scientist")
    assert stable_id("jd", "Data Scientist") != stable_id("jd", "Data Engineer")
    assert stable_id("cv", "x").startswith("cv-") and len(stable_id("cv", "x")) == 19


def test_validate_names_where_and_field():
    rec = {"id": "jd-0123456789abcdef", "kind": "jd", "text": "", "source": {"file": "a.csv", "line": 3}}
    with pytest.raises(SchemaError) as e:
        validate("jd", rec, "a.csv:3")
    assert e.value.where == "a.csv:3" and e.value.field == "text"
    rec["text"] = "ok"
    del rec["source"]
    with pytest.raises(SchemaError) as e:
        validate("jd", rec, "a.csv:3")
    assert e.value.field == "source"
