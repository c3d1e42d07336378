"""RunStats (a run's typed statistics), the re-ask policy and endpoint health, by hand: no server, no LLM."""

from types import SimpleNamespace

from rich.console import Console

from synth.lm.transport import ConnectionFailed
from synth.runner.budget import Budget
from synth.runner.health import EndpointHealth
from synth.runner.outcome import FinalReject
from synth.runner.progress import runner_summary
from synth.runner.reask import ReaskPolicy
from synth.runner.stats import RunStats


def test_reject_counts_in_total_and_by_reason_key():
    s = RunStats()
    s.reject("LLM call failed: HTTP 500 from upstream")
    s.reject("LLM call failed: timeout")
    s.reject("not a job description")
    assert s.rejected == 3
    assert dict(s.rejected_by) == {"LLM call failed": 2, "not a job description": 1}


def test_fault_counts_a_retry_by_kind_and_fail_does_not():
    s = RunStats()
    s.fault("timeout")
    s.fault("timeout")
    s.fault("http_429")
    s.fail("timeout")
    assert s.retries == 3 and dict(s.faults) == {"timeout": 2, "http_429": 1}
    assert dict(s.failed) == {"timeout": 1}


def test_add_usage_sums_tokens_and_micro_dollars_exactly():
    s = RunStats()
    for _ in range(3):
        s.add_usage({"prompt_tokens": 100, "completion_tokens": 7}, 0.1)  # 0.1 * 3 is not 0.3 in floats
    s.add_usage({"prompt_tokens": None}, None)  # a call that reported nothing costs nothing
    assert (s.tokens_in, s.tokens_out, s.tokens) == (300, 21, 321)
    assert s.cost_micro == 300_000 and s.cost == 0.3


def test_merge_adds_every_count_and_counter_and_keeps_a_stop():
    a, b = RunStats(items=2, kept=1, calls=3, wall_ms=1500), RunStats(items=5, kept=4, calls=2, resumed=1, wall_ms=250)
    a.reject("bad: x")
    b.reject("bad: y")
    b.reject("worse")
    b.fault("timeout")
    b.stopped_by_budget = True
    b.add_usage({"prompt_tokens": 10, "completion_tokens": 1}, 0.002)
    a.merge(b)
    assert (a.items, a.kept, a.calls, a.resumed, a.rejected, a.retries) == (7, 5, 5, 1, 3, 1)
    assert dict(a.rejected_by) == {"bad": 2, "worse": 1} and dict(a.faults) == {"timeout": 1}
    assert a.cost_micro == 2000 and a.tokens_in == 10 and a.seconds == 1.75 and a.stopped_by_budget
    assert b.rejected == 2 and dict(b.rejected_by) == {"bad": 1, "worse": 1}  # the merged-in record is unchanged


def test_any_ignores_items_and_a_budget_stop():
    assert not RunStats(items=4, stopped_by_budget=True).any()
    assert RunStats(wall_ms=1).any() and RunStats(duplicates=1).any()


def test_summary_table_reads_the_fields():
    s = RunStats(kept=5, resumed=2, kept_then_rejected=1, duplicates=1, cache_hits=3, calls=9, reasks=2,
                 tokens_in=1234, tokens_out=56, wall_ms=2500)
    s.reject("too short: 3 words")
    s.fault("timeout")
    s.fail("http_500")
    runner = SimpleNamespace(totals=s, budget=Budget(2.0))
    runner.budget.spent = 0.25
    console = Console(width=200, record=True)
    console.print(runner_summary(runner))
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in console.export_text().splitlines() if line.count("│") == 3}
    assert rows["items finished"] == "7" and rows["kept"] == "5" and rows["rejected"] == "1"
    assert rows["duplicates dropped"] == "1" and rows["answers from cache"] == "3" and rows["retried"] == "1"
    assert rows["tokens in / out"] == "1,234 / 56" and rows["cost"] == "$0.2500 of $2" and rows["wall seconds"] == "2.5"
    assert rows["failed:http_500"] == "1" and rows["fault:timeout"] == "1" and rows["rejected: too short"] == "1"
    assert list(rows)[-3:] == ["failed:http_500", "fault:timeout", "rejected: too short"]


def test_reask_policy_final_decisions():
    one = ReaskPolicy(max_reasks=1)
    assert one.attempts == 2
    assert not one.is_final("missing field years", 0)
    assert one.is_final("missing field years", 1)
    assert one.is_final(FinalReject("not a job description"), 0)  # no re-ask fixes it
    assert ReaskPolicy(max_reasks=0).is_final("missing field years", 0)
    reason = one.reason(FinalReject("not a job description"))
    assert reason == "not a job description" and type(reason) is str


def test_reask_turns_carry_the_rejected_answer_and_the_problem():
    turns = ReaskPolicy(1, message="fix: {problem}").turns(None, "years is not a number")
    assert turns == [{"role": "assistant", "content": ""}, {"role": "user", "content": "fix: years is not a number"}]


def test_endpoint_health_judges_only_until_the_first_answer():
    h = EndpointHealth("http://user:secret@127.0.0.1:9/v1", "m")
    err = ConnectionFailed("refused", unreachable=True)
    why = h.dead(err)
    assert why and "secret" not in why and "127.0.0.1:9" in why
    assert h.dead(ValueError("not an LM error")) is None
    h.answered()
    assert h.dead(err) is None
