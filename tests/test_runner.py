import time

import pytest

from synth.errors import InputError
from synth.runner import Runner, RunnerConfig, Task
from tests.llm_server import render_fields
from tests.toy_module import TitleModule

GOOD = {"title": "Data Scientist", "years": 3}


def tasks(n, prefix="job"):
    return [Task(f"{prefix}{i}", {"jd": f"{prefix} number {i}: we need a data scientist"}) for i in range(n)]


def runner(lm_config, home, **kw):
    kw.setdefault("backoff_max", 0.2)
    kw.setdefault("progress", False)
    return Runner(lm_config, home, RunnerConfig(**kw))


@pytest.mark.parametrize("fault", ["429", "429_retry_after", "500", "503", "hang", "reset", "malformed",
                                   "wrong_shape"])
def test_transient_fault_is_retried_then_succeeds(llm_server, lm_config, home, fault):
    llm_server.state.hang_seconds = 3
    llm_server.add("number 0", fault=fault, times=2, retry_after=0.1)
    llm_server.add("", fields=GOOD)
    r = runner(lm_config.with_(timeout=1.0), home)
    res = r.run(TitleModule(), tasks(3))
    assert [o.ok for o in res.outcomes] == [True, True, True]
    assert res.outcomes[0].output == GOOD
    assert res.stats.retries == 2 and llm_server.state.counts[f"fault:{fault}"] == 2
    assert llm_server.calls == 5


def test_retries_exhausted_is_a_retryable_reject_never_a_drop(llm_server, lm_config, home):
    llm_server.add("number 1", fault="500")
    llm_server.add("", fields=GOOD)
    res = runner(lm_config, home, max_retries=2).run(TitleModule(), tasks(3))
    assert len(res.outcomes) == 3 and [o.ok for o in res.outcomes] == [True, False, True]
    bad = res.outcomes[1]
    assert bad.retryable and "server error 500" in bad.reason
    # the next run retries only that item
    llm_server.reset()
    llm_server.add("", fields=GOOD)
    res = runner(lm_config, home).run(TitleModule(), tasks(3))
    assert all(o.ok for o in res.outcomes) and llm_server.calls == 1


def test_client_error_is_not_retried(llm_server, lm_config, home):
    llm_server.add("number 1", fault="400")
    llm_server.add("", fields=GOOD)
    res = runner(lm_config, home, concurrency=1).run(TitleModule(), tasks(3))
    assert [o.ok for o in res.outcomes] == [True, False, True]
    assert "HTTP 400" in res.outcomes[1].reason and llm_server.calls == 3  # one call each: the 400 is not retried


def test_truncated_answer_is_reasked(llm_server, lm_config, home):
    llm_server.add("number 0", fault="truncated", times=1, fields=GOOD)
    llm_server.add("", fields=GOOD)
    res = runner(lm_config, home).run(TitleModule(), tasks(1))
    assert res.outcomes[0].ok and res.outcomes[0].attempts == 2
    assert "finish_reason=length" in llm_server.state.requests[1]["messages"][-1]["content"]


def test_malformed_answer_recovered_by_reask(llm_server, lm_config, home):
    llm_server.add("number 0", text=render_fields({"title": "X", "years": "three or so"}), times=1)
    llm_server.add("", fields=GOOD)
    res = runner(lm_config, home).run(TitleModule(), tasks(1))
    o = res.outcomes[0]
    assert o.ok and o.output == GOOD and o.attempts == 2 and res.stats.reasks == 1
    second = llm_server.state.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and "three or so" in second[-2]["content"]
    assert "could not be parsed" in second[-1]["content"] and "years" in second[-1]["content"]


def test_final_failure_keeps_reason_and_raw(llm_server, lm_config, home):
    llm_server.add("", fields={"title": "", "years": 2})

    def check(task, out):
        return "title is empty" if not out["title"].strip() else None

    res = runner(lm_config, home, max_reasks=2).run(TitleModule(), tasks(1), check=check)
    o = res.outcomes[0]
    assert not o.ok and o.reason == "title is empty" and "[[ ## years ## ]]" in o.raw
    assert o.attempts == 3 and llm_server.calls == 3


def test_cache_hit_miss_and_prompt_edit_invalidation(llm_server, lm_config, home, tmp_path):
    llm_server.add("", fields=GOOD)
    pa, pb = tmp_path / "a.md", tmp_path / "b.md"
    pa.write_text("Extract the title (prompt A).")
    pb.write_text("Extract the title (prompt B).")
    r = runner(lm_config, home)
    r.run(TitleModule(pa), tasks(4, "a"), label="a")
    r.run(TitleModule(pb), tasks(3, "b"), label="b")
    assert llm_server.calls == 7
    r.run(TitleModule(pa), tasks(4, "a"), label="a", run_id="fresh-a")  # new journal: answers come from the cache
    r.run(TitleModule(pb), tasks(3, "b"), label="b", run_id="fresh-b")
    assert llm_server.calls == 7
    pa.write_text("Extract the job title (prompt A, edited).")
    r.run(TitleModule(pa), tasks(4, "a"), label="a", run_id="edited-a")
    r.run(TitleModule(pb), tasks(3, "b"), label="b", run_id="again-b")
    assert llm_server.calls == 11  # exactly the 4 entries that used prompt A
    assert "edited" in llm_server.state.requests[-1]["messages"][0]["content"]
    r.run(TitleModule(pb), tasks(3, "b"), label="b", run_id="nocache")
    nocache = runner(lm_config, home, use_cache=False)
    nocache.run(TitleModule(pb), tasks(3, "b"), label="b", run_id="nocache2")
    assert llm_server.calls == 14


def test_budget_stop_and_continue(llm_server, lm_config, home):
    llm_server.add("", fields=GOOD)
    res = runner(lm_config.with_(max_tokens=64), home, concurrency=1, max_cost=0.0002).run(TitleModule(), tasks(20))
    assert res.stopped_by_budget and not res.complete
    done = len(res.outcomes)
    assert 0 < done < 20 and llm_server.calls == done
    res = runner(lm_config.with_(max_tokens=64), home, concurrency=1).run(TitleModule(), tasks(20))
    assert res.complete and len(res.kept) == 20 and llm_server.calls == 20


def test_max_cost_needs_known_prices(lm_config, home):
    with pytest.raises(InputError, match="cost map"):
        runner(lm_config.with_(model="openai/my-private-model"), home, max_cost=1.0)


def test_dry_run_estimate(llm_server, lm_config, home):
    llm_server.add("", fields=GOOD)
    r = runner(lm_config, home)
    est = r.estimate(TitleModule(), tasks(5))
    assert est["calls"] == 5 and est["input_tokens"] > 5 * 20 and est["cost_max"] > 0 and llm_server.calls == 0
    r.run(TitleModule(), tasks(2))
    assert r.estimate(TitleModule(), tasks(5))["cached"] == 2


def test_rpm_limit_spaces_requests(llm_server, lm_config, home):
    llm_server.add("", fields=GOOD)
    t0 = time.monotonic()
    runner(lm_config, home, rpm=600, concurrency=16).run(TitleModule(), tasks(25))
    assert time.monotonic() - t0 >= 1.4  # 10 requests/s with a burst of 10: 25 requests need >= 1.5 s


def test_sentinel_key_never_stored(llm_server, lm_config, home, monkeypatch, capsys):
    sentinel = "sk-SENTINEL-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", sentinel)
    llm_server.add("number 1", fault="500", times=1)
    llm_server.add("", fields=GOOD)
    from rich.console import Console

    r = Runner(lm_config.with_(api_key_env="OPENAI_API_KEY"), home, RunnerConfig(backoff_max=0.1),
               console=Console(force_terminal=True))
    res = r.run(TitleModule(), tasks(3))
    from synth.store import DatasetStore

    DatasetStore(home).write("out", "jd", [], manifest={"lm": lm_config.public()})
    assert all(o.ok for o in res.outcomes)
    assert llm_server.state.headers[0]["Authorization"] == f"Bearer {sentinel}"  # it was really used
    out = capsys.readouterr()
    assert sentinel not in out.out + out.err
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "cache.sqlite" for p in files) and any(p.name == "journal.jsonl" for p in files)
    for p in files:
        assert sentinel.encode() not in p.read_bytes(), p


def test_final_reject_skips_reask(llm_server, lm_config, home):
    from synth.runner import FinalReject

    llm_server.add("", fields=GOOD)
    res = runner(lm_config, home, max_reasks=3).run(TitleModule(), tasks(1),
                                                    check=lambda t, o: FinalReject("not a job description"))
    assert not res.outcomes[0].ok and res.outcomes[0].reason == "not a job description" and llm_server.calls == 1


def test_cached_adapter_sends_exactly_what_dspy_would():
    import dspy

    from synth.runner.adapter import CachedChatAdapter
    from synth.stages.extract import ExtractAnchor

    plain, cached = dspy.ChatAdapter(use_json_adapter_fallback=False), CachedChatAdapter(use_json_adapter_fallback=False)
    for text in ("Senior data engineer, 5 years of Spark.", "Registered nurse, nights."):
        assert cached.format(ExtractAnchor, [], {"jd_text": text}) == plain.format(ExtractAnchor, [], {"jd_text": text})
    other = ExtractAnchor.with_instructions("Different instructions.")
    assert "Different instructions." in cached.format(other, [], {"jd_text": "x"})[0]["content"]

    class Mixed(dspy.Signature):
        """Mixed inputs."""

        jd: str = dspy.InputField()
        tags: list[str] = dspy.InputField()
        n: int = dspy.InputField()
        extra: dict = dspy.InputField()
        answer: str = dspy.OutputField()

    for inputs in ({"jd": "  padded  \n", "tags": ["a", "b"], "n": 3, "extra": {"k": [1, 2]}},
                   {"jd": "x", "tags": "already text", "n": "7", "extra": "{}"},  # all strings: the fast path
                   {"jd": "", "tags": [], "n": 0, "extra": {}}):
        demo = [dspy.Example(jd="d", tags=["t"], n=1, extra={}, answer="a")]
        assert cached.format(Mixed, demo, inputs) == plain.format(Mixed, demo, inputs)
