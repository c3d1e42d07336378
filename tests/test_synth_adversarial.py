"""`mira synth jd` end to end against scripted LLMs that describe their answers falsely (issue #18): each one is
rejected with the check's reason, nothing it made is kept, and the cooperative LLM still yields n distinct variants
per stage per JD."""

import re

import pytest
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.store import DatasetStore
from tests import scripted_llm
from tests.llm_server import render_fields
from tests.scripted_llm import card_fields, inputs, unfence

cli = CliRunner()
N_JDS = 12


def mira(*args):
    return cli.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _anchor(msgs):
    return unfence(inputs(msgs)["anchor"])


def copy_and_claim_assists(msgs):
    """Stage 4: the anchor card verbatim, declared one level down."""
    card = _anchor(msgs)
    return render_fields({"title": card_fields(card)[0], "scope_level": "assists", "responsibilities": ["assists"],
                          "text": card})


def change_the_list_not_the_text(msgs):
    """Stage 5: the must list flipped as asked, the text the anchor card unchanged."""
    out = scripted_llm.constraint(inputs(msgs))
    return render_fields({"must": out["must"], "text": _anchor(msgs)})


def empty_text(msgs):
    inp = inputs(msgs)
    return render_fields({"title": card_fields(unfence(inp["anchor"]))[0], "scope_level": "assists",
                          "responsibilities": [], "text": ""})


def copy_plus_one_sentence(msgs):
    """Stage 2: the anchor card verbatim plus one sentence (Jaccard ~0.5, containment 1.0)."""
    card = _anchor(msgs)
    return render_fields({"title": card_fields(card)[0], "text": card + "\nJoin a friendly and growing team today."})


def invented_constraint(msgs):
    """Stage 1: a CPA licence 'evidenced' by a generic sentence that is in the JD but says nothing about it."""
    inp = inputs(msgs)
    out = scripted_llm.extract(inp)
    body = unfence(inp["jd_text"])
    body = body.split("\n\n", 1)[1] if body.startswith("Title: ") else body
    first = re.split(r"[.\n]", body.strip())[0].strip()
    out["must"] = scripted_llm.musts(unfence(inp["jd_text"])) + [
        {"field": "certification", "value": "CPA license", "evidence": first}]
    return render_fields(out)


CASES = [("role-boundary hard negative", copy_and_claim_assists, "boundary", "scope not shallower"),
         ("constraint-conflict hard negative", change_the_list_not_the_text, "constraint", "still in the text"),
         ("role-boundary hard negative", empty_text, "boundary", "empty text"),
         ("rewrite a structured job anchor", copy_plus_one_sentence, "paraphrase", "near-copy")]


@pytest.fixture
def sample(home):
    import_samples(DatasetStore())


@pytest.mark.parametrize("marker,adversary,stage,reason", CASES, ids=[c[1].__name__ for c in CASES])
def test_an_adversarial_stage_keeps_nothing(sample, llm_server, store, marker, adversary, stage, reason):
    llm_server.add(marker, fn=adversary)
    llm_server.add("", fn=scripted_llm.answer)
    args = ["synth", "jd", "--jds", "sample-jd", "--name", "adv", "--limit", N_JDS, "--lm", "openai/gpt-4o-mini",
            "--api-base", llm_server.url]
    r = mira(*args)
    assert r.exit_code == 0, r.output
    pairs = store.resolve("adv-pairs")
    c = pairs.manifest["stages"][stage]
    assert c["in"] > 0 and c["kept"] == 0
    rejects = [x for x in pairs.iter_rejects() if x["where"].startswith(f"{stage}:")]  # answers, not shortfalls
    assert rejects and all(reason in x["reason"] for x in rejects)
    assert all(p["type"] != stage for p in pairs.iter_records())
    calls = llm_server.calls
    again = mira(*args)  # a resumed run re-checks what was journaled and never crashes on it
    assert again.exit_code == 0 and llm_server.calls == calls


def test_an_invented_constraint_with_generic_evidence_is_dropped(sample, llm_server, store):
    llm_server.add("conservative structured anchor", fn=invented_constraint)
    r = mira("synth", "jd", "--jds", "sample-jd", "--name", "inv", "--stages", "1", "--limit", N_JDS, "--lm",
             "openai/gpt-4o-mini", "--api-base", llm_server.url)
    assert r.exit_code == 0, r.output
    anchors = store.resolve("inv-anchors").records()
    assert anchors and all(c["value"] != "CPA license" for a in anchors for c in a["must"])
    whys = [c["why"] for a in anchors for c in a.get("dropped", {}).get("must", []) if c["value"] == "CPA license"]
    assert len(whys) == len(anchors) and set(whys) == {"value not supported by its evidence quote"}


def test_cooperative_llm_yields_n_distinct_variants_per_jd(sample, llm_server, store):
    llm_server.add("", fn=scripted_llm.answer)
    r = mira("synth", "jd", "--jds", "sample-jd", "--name", "coop", "--limit", N_JDS, "--n-boundary", 3,
             "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url)
    assert r.exit_code == 0, r.output
    anchors = {a["id"]: a for a in store.resolve("coop-anchors").iter_records()}
    pairs = store.resolve("coop-pairs").records()
    deep = [a for a in anchors.values() if a["scope_level"] != "assists"]
    assert deep
    dups = [x for x in store.resolve("coop-pairs").iter_rejects() if x["reason"] == "duplicate"]
    for a in deep:
        kept = {p["id"] for p in pairs if p["anchor_id"] == a["id"] and p["type"] == "boundary"}
        mine = [x for x in dups if x["of_stage"] == "boundary" and x["source_id"] == a["jd_id"]]
        # three variants passed the check; none duplicates a sibling (the scripted texts are boilerplate, so some
        # duplicate the same-title variants of another JD, which is what dedup is for)
        assert len(kept) + len(mine) == 3 and not [x for x in mine if x["duplicate_of"] in kept], a["id"]
        assert len({p["text"] for p in pairs if p["id"] in kept}) == len(kept)
    stages = store.resolve("coop-pairs").manifest["stages"]
    assert stages["boundary"]["jds_at_request"] > 0 and stages["boundary"]["requested_per_jd"] == 3
    from rich.console import Console

    from mira.cli.data import stage_table

    con = Console(width=200, record=True)
    con.print(stage_table(store.resolve("coop-pairs")))
    shown = con.export_text()
    assert "kept per JD / requested" in shown and f"{stages['boundary']['jds_at_request']}/{len(anchors)}" in shown
