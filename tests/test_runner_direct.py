"""The runner's direct call path (#17 item 0): a module whose forward is one plain Predict call is called without
DSPy's module / LM machinery around it. It must send the same requests and give the same fields and the same
parse errors as the DSPy path; anything else runs through DSPy."""

from __future__ import annotations

import random

import dspy

from judge.module import Judge, check, make_task
from judge.requirements import make_requirements
from judge.rubric import load_rubric
from synth.runner import Runner, RunnerConfig, Task
from synth.runner.calls import backoff, direct_predictor
from synth.stages import paraphrase
from tests.llm_server import render_fields
from tests.scripted_judge import answer, cooperative_fields
from tests.toy_module import TitleModule


class DirectTitle(TitleModule):
    direct = True


class ViaDSPy(Judge):
    direct = False


def run_both(llm_server, lm_config, tmp_path, rules, make_module, tasks, check=None, **kw):
    """Both paths on the same tasks and the same scripted server (`rules` sets it up afresh for each), each in its
    own home: (outcomes, request bodies) per path."""
    out = {}
    for path in ("direct", "dspy"):
        llm_server.reset()
        rules()
        r = Runner(lm_config, tmp_path / path, RunnerConfig(progress=False, concurrency=1, backoff_max=0.1, **kw))
        module = make_module(path)
        assert (r._direct(module) is not None) == (path == "direct")
        res = r.run(module, tasks, check=check)
        out[path] = ([(o.ok, o.output, o.reason, o.raw) for o in res.outcomes], list(llm_server.state.requests))
    return out


def test_same_requests_fields_and_parse_errors_as_dspy(llm_server, lm_config, tmp_path):
    def rules():
        llm_server.add("number 0", fields={"title": "Data Scientist", "years": 3})
        llm_server.add("number 1", fields={"title": "Nurse", "years": "three"})  # not an int: a parse error
        llm_server.add("number 2", text="[[ ## title ## ]]\nNurse\n\n[[ ## completed ## ]]")  # a field missing
        llm_server.add("number 3", text="")  # an empty answer

    tasks = [Task(f"t{i}", {"jd": f"number {i}: we need someone"}) for i in range(4)]
    got = run_both(llm_server, lm_config, tmp_path, rules,
                   lambda p: DirectTitle() if p == "direct" else TitleModule(), tasks, max_reasks=0)
    assert got["direct"] == got["dspy"]
    outcomes = got["direct"][0]
    assert outcomes[0][:2] == (True, {"title": "Data Scientist", "years": 3})
    assert [o[0] for o in outcomes[1:]] == [False, False, False]
    assert "years" in outcomes[1][2]
    assert "The LM returned an empty" in outcomes[3][2]


def test_the_judge_sends_the_same_requests_with_reasks_and_grounding(llm_server, lm_config, tmp_path):
    """Pydantic outputs, a re-ask turn and the item's grounded schema (`--grounded`) take the same path."""
    def no_verdicts(messages):
        return render_fields({**cooperative_fields(messages), "verdicts": []})

    def rules():
        llm_server.add("", fn=no_verdicts, times=1)  # the check asks again
        llm_server.add("", fn=answer)

    jd = {"id": "jd-1", "text": "Payroll clerk. Requires 3+ years of payroll and ADP."}
    cv = {"id": "cv-1", "text": "Payroll clerk at Acme 2015-2021: ran ADP payroll for 300 staff."}
    reqs = make_requirements([("must", "3+ years of payroll"), ("must", "ADP")])
    task = make_task(jd, cv, reqs, redact_pii=False)
    rubric = load_rubric()
    got = run_both(llm_server, lm_config.with_(grounded=True), tmp_path, rules,
                   lambda p: Judge(rubric) if p == "direct" else ViaDSPy(rubric), [task], check=check(rubric))
    assert got["direct"] == got["dspy"]
    bodies = got["direct"][1]
    assert len(bodies) == 2 and all("response_format" in b for b in bodies)
    assert "no verdict for numbers [1, 2]" in bodies[1]["messages"][-1]["content"]
    assert got["direct"][0][0][0] is True


def test_stage_modules_take_the_direct_path_and_others_do_not():
    assert direct_predictor(paraphrase.Paraphrase()) is not None
    assert direct_predictor(Judge(load_rubric())) is not None
    assert direct_predictor(TitleModule()) is None  # it does not say its forward only delegates

    class Hot(DirectTitle):
        def __init__(self):
            super().__init__()
            self.predict = dspy.Predict(self.predict.signature, temperature=1.0)  # a config of its own

    class WithImage(dspy.Signature):
        jd: str = dspy.InputField()
        logo: dspy.Image = dspy.OutputField()

    class Pictures(DirectTitle):
        def __init__(self):
            super().__init__()
            self.predict = dspy.Predict(WithImage)

    assert direct_predictor(Hot()) is None and direct_predictor(Pictures()) is None


def test_backoff_is_full_jitter_under_a_doubling_cap():
    rng_state = random.getstate()
    try:
        random.seed(0)
        for tries, bound in ((1, 0.5), (2, 1.0), (3, 2.0), (6, 5.0)):
            waits = [backoff(tries, cap=5.0) for _ in range(400)]
            assert all(0 <= w <= bound for w in waits)
            assert max(waits) > 0.9 * bound and min(waits) < 0.1 * bound  # spread over the whole interval
    finally:
        random.setstate(rng_state)
