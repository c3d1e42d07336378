"""Grounded decoding (issue #16): per-item schemas built by code, sent to a server as response_format with
`--grounded`, and the checks still reading the text."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from judge.module import verdict_grounding
from mira.cli import app
from mira.cli.demo import import_samples
from synth.lm.grammar import accepts
from synth.lm.schema import GroundingPathError, ground_schema, json_pattern_literal, output_schema
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
                             "must": {"maxItems": 2}, "summary": {"pattern": "^x$", "maxLength": None}})
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
    with pytest.raises(GroundingPathError, match="nope.deeper"):  # a path with no field is an error (#27)
        ground_schema(base, {"skills[]": ["ADP"], "nope.deeper": ["x"]})


def test_stage1_spans_are_the_jds_own_text():
    task = extract.make_task(JD)
    source = "\n".join([JD["title"], JD["text"]])
    quotes, skills = task.grounding["must[].evidence"], task.grounding["skills[]"]
    assert "3+ years of payroll experience required." in quotes
    assert not [q for q in quotes if "free parking" in q]  # not requirement-like
    assert {"ADP", "Excel", "state tax filings"} <= set(skills)
    assert all(quote_in(q, source) for q in quotes) and all(phrase_in(s, source) for s in skills)
    # a sentence that calls itself preferred is evidence for `preferred` only; the JD's requirements force one must
    assert task.grounding["preferred[].evidence"] == ["Bachelor's degree in Accounting preferred."]
    assert task.grounding["must"] == {"minItems": 1}
    assert task.grounding["seniority"] == ["unspecified"] and "accounting" in task.grounding["job_family"]
    assert task.grounding["scope_level"] == []  # no scope cue in the text: the decoder's choice
    lead = extract.make_task({**JD, "text": JD["text"] + "\nYou will lead a team of four payroll clerks."})
    assert lead.grounding["scope_level"] == ["leads"]
    schema = ground_schema(output_schema(extract.ExtractAnchor), task.grounding)
    assert schema["properties"]["seniority"]["enum"] == ["unspecified"]
    assert schema["properties"]["must"]["minItems"] == 1
    # SmolLM2 wrote "[KAG West]" as the language of a free string
    languages = schema["properties"]["language"]["enum"]
    assert "en" in languages and "[KAG West]" not in languages


def test_every_must_the_decoder_can_write_passes_the_evidence_check():
    """Seen on the demo: the value and the quote were separate enums, and SmolLM2 paired '4532a notices' with a
    quote that does not hold it. Per-quote options make every decodable must a value inside its own quote."""
    task = extract.make_task(JD)
    schema = ground_schema(output_schema(extract.ExtractAnchor), task.grounding)
    options = schema["properties"]["must"]["items"]["anyOf"]
    assert [o["properties"]["evidence"]["enum"] for o in options] == [["3+ years of payroll experience required."],
                                                                     ["Strong knowledge of ADP, Excel and state tax "
                                                                      "filings."]]
    assert options[0]["properties"]["value"]["enum"] == ["3+ years"]
    assert options[0]["properties"]["field"]["enum"] == ["years_experience"]  # not "certification: 2 years"
    assert "years_experience" not in options[1]["properties"]["field"]["enum"]
    assert extract._field_kinds(["Bachelor's degree", "CDL", "Excel"]) == {
        ("degree",): ["Bachelor's degree"], ("certification", "license"): ["CDL"],
        tuple(f for f in options[1]["properties"]["field"]["enum"]): ["Excel"]}
    assert "Successful candidates must" not in extract._chunks("Successful candidates must: Be Team Oriented")
    source = "\n".join([JD["title"], JD["text"]])
    for o in options:
        (ev,) = o["properties"]["evidence"]["enum"]
        for v in o["properties"]["value"]["enum"]:
            assert extract.constraint_problem({"field": "skill", "evidence": ev, "value": v}, source) is None, v
    assert "Skills" not in extract.skill_spans({"id": "jd-3", "text": "Skills/Qualifications: Legal Writing Skills"})


def test_a_jd_without_preferred_sentences_offers_no_preferred_and_its_title_level():
    jd = {"id": "jd-8", "title": "Senior Payroll Specialist", "text": JD["text"].replace(" preferred", " required")}
    task = extract.make_task(jd)
    assert task.grounding["preferred"] == {"maxItems": 0} and "preferred[].evidence" not in task.grounding
    assert task.grounding["seniority"] == ["senior", "unspecified"]


def test_an_anchor_keeps_no_seniority_the_jd_does_not_state():
    """An LLM that calls a per-diem LPN posting 'principal' (seen from SmolLM2 on the demo JDs) gets 'unspecified',
    and the dropped claim is recorded; a stated level is kept."""
    jd = {"id": "jd-7", "title": "Per Diem Hospice LPN", "text": "Per Diem Hospice LPN\n" + JD["text"]}
    out = {"title": "Per Diem Hospice LPN", "job_family": "nursing", "seniority": "principal",
           "scope_level": "contributes", "skills": [], "must": [], "preferred": [], "responsibilities": []}
    anchor, why, dropped = extract.build_anchor(jd, out, "h", "m")
    assert why is None and anchor["seniority"] == "unspecified" and dropped["seniority"] == ["principal"]
    assert "Seniority: principal" not in anchor["card"]
    twice = {"field": "years_experience", "value": "3+ years", "evidence": "3+ years of payroll experience required."}
    anchor, _, dropped = extract.build_anchor(jd, {**out, "must": [twice, {**twice, "field": "certification"}]},
                                              "h", "m")
    assert anchor["must"] == [twice]  # a second copy could never be flipped away (stage 5)
    assert dropped["must"][0]["why"].startswith("duplicate")
    senior = {**jd, "title": "Senior Hospice LPN", "text": "Senior Hospice LPN\n" + JD["text"]}
    anchor, _, _ = extract.build_anchor(senior, {**out, "title": "Senior Hospice LPN", "seniority": "senior"}, "h", "m")
    assert anchor["seniority"] == "senior"


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


def test_a_free_flip_is_read_from_the_texts_own_opening():
    """Without a code-chosen value, the grounded text states the new requirement right after the others, and the
    check reads it there: SmolLM2 named '#1' or '## must ##' in `must` while its text said something else."""
    anchor = {**ANCHOR, "must": [{"field": "skill", "value": "Spark", "evidence": "Spark"},
                                 {"field": "location", "value": "Chicago", "evidence": "Chicago"}]}
    t = constraint.make_tasks(anchor, 1)[0]
    assert t.meta["to"] is None and t.inputs["flip"] == "skill: Spark"
    pat = re.compile(t.grounding["text"]["pattern"])
    body = " You will build data pipelines with the team and support the analysts in our office every day."
    text = "Senior Data Engineer. Requires Chicago; Kubernetes." + body
    assert pat.match(text) and not pat.match("Senior Data Engineer. Requires Chicago; #1." + body)
    assert not pat.match("Senior Data Engineer. Requires Chicago." + body)  # the slot cannot be skipped
    liar = {"text": text, "must": [{"field": "skill", "value": "#1"}, {"field": "location", "value": "Chicago"}]}
    assert constraint.check(t, liar) is None
    rec = constraint.build(t, liar, "h", "m")
    assert rec["structured"]["to"] == "Kubernetes"
    assert [c["value"] for c in rec["structured"]["must"]] == ["Kubernetes", "Chicago"]
    kept_old = {**liar, "text": "Senior Data Engineer. Requires Chicago; Spark and Kubernetes." + body}
    assert "still in the text" in constraint.check(t, kept_old)
    # an ungrounded answer that does not open that way: its `must` list names the new value, the text must hold it
    free = {"text": "Senior Data Engineer in Chicago. We need Kubernetes." + body,
            "must": [{"field": "skill", "value": "Hadoop"}, {"field": "location", "value": "Chicago"}]}
    assert "'hadoop' is not in the text" in constraint.check(t, free)


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
    from judge.module import Judge
    from judge.rubric import load_rubric

    g = ground_schema(output_schema(Judge(load_rubric()).predict.signature, bounded=False), verdict_grounding(4))
    v = g["properties"]["verdicts"]
    assert (v["minItems"], v["maxItems"]) == (4, 4) and v["items"] is False
    assert [x["properties"]["requirement"]["enum"] for x in v["prefixItems"]] == [[1], [2], [3], [4]]
    pytest.importorskip("llguidance")
    one = '{{"requirement": {}, "verdict": "met", "evidence": ""}}'
    assert accepts(v, "[" + ", ".join(one.format(k) for k in (1, 2, 3, 4)) + "]")
    assert not accepts(v, "[" + ", ".join(one.format(k) for k in (1, 1, 3, 4)) + "]")  # seen from SmolLM2


def test_every_rubric_score_is_decoded_inside_0_to_100():
    """SmolLM2 wrote education=36487 and innovation=-1 under `minimum` / `maximum`, which JSON-schema decoders
    ignore: the `*` path gives every dimension's score an enum, and the shared model stays free elsewhere."""
    from judge.module import Judge
    from judge.rubric import load_rubric

    judge = Judge(load_rubric())
    g = ground_schema(output_schema(judge.predict.signature), verdict_grounding(2))
    dims = g["properties"]["scores"]["properties"]
    assert set(dims) == set(judge.rubric.dimensions)
    assert all(d["properties"]["score"]["enum"] == list(range(101)) for d in dims.values())
    pytest.importorskip("llguidance")
    assert accepts(dims["career"], '{"score": 100, "rationale": "ok"}')
    assert not accepts(dims["career"], '{"score": 36487, "rationale": "ok"}')
    assert not accepts(dims["career"], '{"score": -1, "rationale": "ok"}')
    # SmolLM2 added "description" keys until the token limit when the score objects were open
    assert not accepts(dims["career"], '{"score": 10, "rationale": "ok", "description": "x"}')
    with pytest.raises(GroundingPathError, match=r"scores\.\*\.score"):  # a `*` over no fields is an error (#27)
        ground_schema({"type": "object", "properties": {}}, {"scores.*.score": [1]})


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


def test_a_note_about_the_task_is_no_job_description():
    """English that describes the rewrite (SmolLM2's answer once its drift into other languages stopped)."""
    from synth.textcheck import prose_problem

    meta = ("Per Diem Hospice LPN. This is a job description that I will rewrite to include the same information as "
            "the original job description, but with different sentences and a different style.")
    assert "talks about the writing task" in prose_problem(meta, ["Per Diem Hospice LPN"])
    assert prose_problem(REAL, ["Legal Secretary/ Legal Assitant"]) is None


def test_real_english_prose_passes_the_prose_check():
    from synth.textcheck import prose_problem

    assert prose_problem(REAL, ["Legal Secretary/ Legal Assitant"]) is None
    assert "almost nothing" in prose_problem("Legal Secretary/ Legal Assitant. Requires typing.",
                                             ["Legal Secretary/ Legal Assitant", "typing"])


def test_how_the_local_model_decodes_is_part_of_the_cache_key(monkeypatch):
    from synth.lm import local
    from synth.lm.config import LMConfig

    before = LMConfig().public()
    assert before["decoding"]["penalty_over"] == "answer"
    monkeypatch.setitem(local.DECODING, "repetition_penalty", 1.0)
    assert LMConfig().public() != before
    assert "decoding" not in LMConfig(model="openai/x", api_base="http://127.0.0.1:1/v1").public()


def test_only_a_plain_posting_forbids_not_a_job_description(home):
    """SmolLM2 called every demo JD 'not a job description'; a text with `PLAIN_POSTING` kinds of posting language
    may not be called that under grounded decoding, while a CV (first person, no applicants, no terms) stays the
    LLM's call."""
    posting = {"id": "jd-5", "title": "Payroll Specialist",
               "text": JD["text"] + "\nWe are looking for a payroll specialist to join our team. You will run "
                                    "payroll. Apply today: competitive salary and benefits."}
    assert extract.posting_cues(posting["text"]) >= extract.PLAIN_POSTING
    assert extract.make_task(posting).grounding["is_job_description"] == [True]
    cv = {"id": "jd-6", "title": "", "text": "Payroll Specialist\nProfessional Summary\nPayroll specialist with 6 "
                                            "years of ADP and Excel experience. Processed payroll for 2,000 staff; "
                                            "filed state taxes.\nEducation: BSc Accounting, 2012.\nSkills: ADP, "
                                            "Excel, reconciliations, state tax filings, audits."}
    assert extract.posting_cues(cv["text"]) < extract.PLAIN_POSTING
    assert "is_job_description" not in extract.make_task(cv).grounding
    # on the committed samples: most real postings are forced, almost no real CV
    store = DatasetStore()
    import_samples(store)
    forced = lambda ref, text: sum(extract.posting_cues(text(r)) >= extract.PLAIN_POSTING  # noqa: E731
                                   for r in store.resolve(ref).iter_records())
    assert forced("sample-jd", extract.jd_input) >= 30 and forced("sample-rjdb-jd", extract.jd_input) >= 40
    assert forced("sample-cv", lambda r: r["text"]) + forced("sample-rjdb-cv", lambda r: r["text"]) <= 2
