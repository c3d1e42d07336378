"""Grounded decoding (issue #16): per-item schemas built by code, sent to a server as response_format with
`--grounded`, and the checks still reading the text."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from judge.module import JudgePair, verdict_grounding
from synth.cli import app
from synth.cli.demo import import_samples
from synth.lm.schema import ground_schema, json_pattern_literal, output_schema
from synth.stages import boundary, card, constraint, extract, paraphrase
from synth.store import DatasetStore
from synth.textcheck import phrase_in, quote_in
from tests import scripted_llm

cli = CliRunner()
ANCHOR = {"id": "jd_anchor-1", "jd_id": "jd-1", "title": "Senior Data Engineer", "scope_level": "leads",
          "responsibilities": ["build pipelines"], "card": "Title: Senior Data Engineer\nScope: leads",
          "must": [{"field": "years_experience", "value": "5+ years", "evidence": "5+ years"},
                   {"field": "degree", "value": "Bachelor's in CS", "evidence": "Bachelor's in CS"},
                   {"field": "location", "value": "Chicago", "evidence": "Chicago"}]}
JD = {"id": "jd-9", "title": "Payroll Specialist",
      "text": "Payroll Specialist\nWe process payroll for 2,000 staff.\nRequirements:\n- 3+ years of payroll "
              "experience required.\n- Strong knowledge of ADP, Excel and state tax filings.\n- Bachelor's degree "
              "in Accounting preferred.\nWe offer a friendly team and free parking."}


def test_nested_paths_enums_and_keywords_leave_the_shared_schema_alone():
    base = output_schema(extract.ExtractAnchor)
    g = ground_schema(base, {"skills[]": ["ADP", "Excel"], "must[].evidence": ["3+ years of payroll"],
                             "must": {"maxItems": 2}, "summary": {"pattern": "^x$", "maxLength": None},
                             "nope.deeper": ["ignored"]})
    assert g["properties"]["skills"]["items"] == {"type": "string", "enum": ["ADP", "Excel"]}
    must = g["properties"]["must"]
    assert must["maxItems"] == 2 and must["items"]["properties"]["evidence"]["enum"] == ["3+ years of payroll"]
    assert "$ref" not in must["items"]  # inlined where narrowed ...
    assert "enum" not in g["$defs"]["Constraint"]["properties"]["evidence"]  # ... so `preferred` stays free
    # a grounded field with a default (Constraint.evidence = "") becomes required: a decoder cannot skip it
    assert "evidence" not in g["$defs"]["Constraint"].get("required", [])
    assert "evidence" in must["items"]["required"]
    assert g["properties"]["summary"]["pattern"] == "^x$" and "maxLength" not in g["properties"]["summary"]
    assert base == output_schema(extract.ExtractAnchor)


def test_stage1_spans_are_the_jds_own_text():
    task = extract.make_task(JD)
    source = "\n".join([JD["title"], JD["text"]])
    quotes, skills = task.grounding["must[].evidence"], task.grounding["skills[]"]
    assert "3+ years of payroll experience required." in quotes
    assert not [q for q in quotes if "free parking" in q]  # not requirement-like
    assert {"ADP", "Excel", "state tax filings"} <= set(skills)
    assert all(quote_in(q, source) for q in quotes) and all(phrase_in(s, source) for s in skills)


def test_stage_2_to_5_texts_open_with_the_title_and_must_values():
    head = "Senior Data Engineer. Requires 5+ years; Bachelor's in CS; Chicago. "
    b0, b1 = boundary.make_tasks(ANCHOR, 2)  # the anchor leads: variants at 'contributes', then 'assists'
    for task, lead in ((paraphrase.make_tasks(ANCHOR)[0], ""), (b0, "This role contributes to "),
                       (b1, "This role assists ")):
        pat = re.compile(task.grounding["text"]["pattern"])
        assert pat.match(head + lead + "x" * 80) and not pat.match(head + lead + "x" * 20)
        assert not pat.match("Data Engineer. " + "x" * 80)
    assert not re.match(b1.grounding["text"]["pattern"], head + "This role leads " + "x" * 80)
    c = constraint.make_tasks(ANCHOR, 2)
    assert [t.meta["to"] for t in c] == ["1 year", "PhD"]
    assert c[0].inputs["flip"] == "years_experience: 5+ years -> 1 year"
    assert re.match(c[0].grounding["text"]["pattern"],
                    "Senior Data Engineer. Requires 1 year; Bachelor's in CS; Chicago. " + "y" * 70)
    cd = card.make_tasks(ANCHOR, {"id": "jd-1", "text": "Senior Data Engineer in Chicago"})[0]
    assert cd.grounding["must"] == {"minItems": 3, "maxItems": 3}
    assert json_pattern_literal('say "hi"') is None  # such an item decodes without a pattern


def test_a_code_chosen_replacement_is_checked_in_the_text():
    t = constraint.make_tasks(ANCHOR, 1)[0]
    ok = ("Senior Data Engineer. Requires 1 year; Bachelor's in CS; Chicago. You will build data pipelines with the "
          "team and support the analysts in our office.")
    assert constraint.check(t, {"text": ok, "must": []}) is None  # the answer's list is not read
    kept = ok.replace("1 year;", "1 year; 5+ years;")
    assert "still in the text" in constraint.check(t, {"text": kept, "must": []})
    rec = constraint.build(t, {"text": ok, "must": [{"field": "skill", "value": "junk"}]}, "h", "m")
    assert rec["structured"]["to"] == "1 year" and rec["structured"]["must"][0]["value"] == "1 year"


def test_judge_verdicts_name_only_given_numbers():
    g = ground_schema(output_schema(JudgePair, bounded=False), verdict_grounding(4))
    v = g["properties"]["verdicts"]
    assert (v["minItems"], v["maxItems"]) == (4, 4) and v["items"]["properties"]["requirement"]["enum"] == [1, 2, 3, 4]


def _title_liar(msgs):
    out = scripted_llm.extract(scripted_llm.inputs(msgs))
    out["title"] = "Chief Happiness Officer"
    from tests.llm_server import render_fields

    return render_fields(out)


@pytest.mark.parametrize("grounded", [False, True])
def test_grounded_flag_sends_the_item_schema_and_raises_the_keep_rate(home, llm_server, store, grounded):
    """An LLM that invents the title: rejected without grounding; a guided server can only give a JD title span,
    which the check then verifies in the JD."""
    import_samples(DatasetStore())
    llm_server.add("conservative structured anchor", fn=_title_liar)
    args = ["synth", "jd", "--jds", "sample-jd", "--name", "g", "--stages", "1", "--limit", 3,
            "--lm", "openai/m", "--api-base", llm_server.url] + (["--grounded"] if grounded else [])
    r = cli.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    bodies = llm_server.state.requests
    jds = {j["id"]: j for j in store.resolve("sample-jd").records()[:3]}
    if not grounded:
        assert all("response_format" not in b for b in bodies)
        assert store.resolve("g-anchors").count == 0
        return
    schemas = [b["response_format"]["json_schema"]["schema"] for b in bodies]
    titles = [s["properties"]["title"]["enum"] for s in schemas]
    assert sorted(map(tuple, titles)) == sorted(tuple(extract.title_candidates(j)) for j in jds.values())
    assert "maxLength" not in json.dumps(schemas[0]["properties"]["summary"])  # a server's texts are not cut
    anchors = store.resolve("g-anchors").records()
    assert len(anchors) == 3 and all(a["title"] == extract.title_candidates(jds[a["jd_id"]])[0] for a in anchors)


# what the embedded 135M model wrote around the grounded opening (mira demo, before this check)
SMOL = ["Legal Secretary/ Legal Assitant. Enfabrajadulle d'un ensecurateur sociailier pour légèrement le développeur",
        "Legal Secretary/ Legal Assitant. This role assists Ã©fécec sinaïm ehkim al makem elenciyin kısmuşturun "
        "yerdezine.",
        "Legal Secretary/ Legal Assitant. This role assists siiin tahti luhe aliajadollam kai legem jalmaja "
        "ekseimatakum.",
        "Legal Secretary/ Legal Assitant. Forskelen ökologiske vedligere naturætisker kommunikation fra "
        "løbbellektrum. Forskelen er sammen med enkeligheterlighe tredjet af ditt forsakte."]
REAL = ("Legal Secretary/ Legal Assitant. Our law firm in Reston is looking for an assistant to answer the phones, "
        "pay bills and deposit checks, and to help the attorneys with their filings and calendars.")


@pytest.mark.parametrize("text", SMOL)
def test_gibberish_around_a_grounded_opening_is_rejected(text):
    anchor = {**ANCHOR, "title": "Legal Secretary/ Legal Assitant", "must": [], "scope_level": "leads",
              "responsibilities": ["answer the phones"]}
    out = {"title": anchor["title"], "text": text, "scope_level": "assists"}
    checks = [(paraphrase.make_tasks(anchor)[0], paraphrase.check)]
    if "This role assists" in text:  # the boundary variant's grounded opening is not the text's own words
        checks.append((boundary.make_tasks(anchor, 2)[1], boundary.check))
    for task, check in checks:
        assert "English prose" in check(task, out), task.key


def test_real_english_prose_passes_the_prose_check():
    from synth.textcheck import prose_problem

    assert prose_problem(REAL, ["Legal Secretary/ Legal Assitant"]) is None
    assert "almost nothing" in prose_problem("Legal Secretary/ Legal Assitant. Requires typing.",
                                             ["Legal Secretary/ Legal Assitant", "typing"])


def test_local_model_compiles_each_schema_once(monkeypatch):
    """The embedded model reuses a compiled schema (boundary variants, re-asks, a JD's judge calls share one)."""
    outlines = pytest.importorskip("outlines")
    from synth.lm.config import LMConfig
    from synth.lm.local import LocalTransport

    built = []

    class FakeGenerator:
        def __init__(self, model, output_type):
            built.append(output_type)

        def __call__(self, prompt, **kw):
            return '{"title": "Nurse"}'

    class FakeTok:
        def apply_chat_template(self, msgs, **kw):
            return " ".join(m["content"] for m in msgs)

        def __call__(self, text):
            return {"input_ids": text.split()}

    monkeypatch.setattr(outlines, "Generator", FakeGenerator)
    t = LocalTransport(LMConfig())
    t._model, t._tok, t._outlines = object(), FakeTok(), object()
    a = {"type": "object", "properties": {"title": {"enum": ["Nurse", "RN"]}}, "required": ["title"]}
    b = {"type": "object", "properties": {"title": {"enum": ["Nurse"]}}, "required": ["title"]}
    msgs = [{"role": "user", "content": "a job"}]
    for schema in (a, dict(reversed(list(a.items()))), b, a):
        assert "Nurse" in t.generate(msgs, schema, 50).text
    assert len(built) == 2 and t.compiles == 2 and t.compile_hits == 2
