"""The runner's numbers hold: replay only for the identical request, re-checked; budgets, TPM, dry runs; dead
endpoints stop at once; keys go only where named."""

import asyncio
import json
import re
import socket
import time

import pytest
from typer.testing import CliRunner

from synth.errors import InputError
from synth.lm.config import LMConfig, resolve_lm_config
from synth.runner import Task
from synth.runner.core import EndpointUnavailable
from synth.runner.limits import Bucket
from tests.test_runner import runner
from tests.toy_module import TitleModule

GOOD = {"title": "Data Scientist", "years": 3}


def tasks(n, text="we need a data scientist"):
    return [Task(f"job{i}", {"jd": f"job number {i}: {text}"}) for i in range(n)]


# -- replay is keyed by the request --------------------------------------------------------------------------
def test_same_keys_different_inputs_are_new_calls(llm_server, lm_config, home):
    llm_server.add("", fields=GOOD)
    runner(lm_config, home).run(TitleModule(), tasks(4, "plain text"), label="judge")
    assert llm_server.calls == 4
    res = runner(lm_config, home).run(TitleModule(), tasks(4, "[REDACTED] text"), label="judge")
    assert llm_server.calls == 8 and res.stats.resumed == 0
    sent = [m["messages"][-1]["content"] for m in llm_server.state.requests[4:]]
    assert all("[REDACTED]" in s for s in sent)


def test_identical_request_is_resumed_not_called(llm_server, lm_config, home):
    llm_server.add("", fields=GOOD)
    runner(lm_config, home).run(TitleModule(), tasks(4))
    res = runner(lm_config, home).run(TitleModule(), tasks(4))
    assert llm_server.calls == 4 and res.stats.resumed == 4 and all(o.ok for o in res.outcomes)


def test_replayed_answers_are_rechecked_with_todays_check(llm_server, lm_config, home):
    llm_server.add("", fields={"title": "Data Scientist", "years": 1})
    res = runner(lm_config, home, max_reasks=0).run(TitleModule(), tasks(3))
    assert all(o.ok for o in res.outcomes)
    stricter = lambda t, out: "needs at least 2 years" if out["years"] < 2 else None  # noqa: E731
    res = runner(lm_config, home, max_reasks=0).run(TitleModule(), tasks(3), check=stricter)
    assert [o.ok for o in res.outcomes] == [False, False, False]
    assert all(o.reason == "needs at least 2 years" for o in res.outcomes)
    assert llm_server.calls == 3  # decided again from the cached answers, nothing paid twice


def test_client_errors_are_not_final_across_runs(llm_server, lm_config, home):
    llm_server.add("number 1", fault="404", times=1)
    llm_server.add("", fields=GOOD)
    res = runner(lm_config, home, concurrency=1).run(TitleModule(), tasks(3))
    assert [o.ok for o in res.outcomes] == [True, False, True] and "HTTP 404" in res.outcomes[1].reason
    res = runner(lm_config, home, concurrency=1).run(TitleModule(), tasks(3))
    assert all(o.ok for o in res.outcomes) and llm_server.calls == 4  # only the failed item is asked again


def test_no_cache_means_no_replay(llm_server, lm_config, home):
    llm_server.add("", fields=GOOD)
    runner(lm_config, home).run(TitleModule(), tasks(3))
    res = runner(lm_config, home, use_cache=False).run(TitleModule(), tasks(3))
    assert llm_server.calls == 6 and res.stats.resumed == 0 and res.stats.cache_hits == 0


# -- the budget -----------------------------------------------------------------------------------------------
def _call_cost(llm_server, cfg, home) -> float:
    """What one call of these tests really costs (the server reports usage)."""
    llm_server.add("", fields=GOOD)
    r = runner(cfg, home / "probe")
    r.run(TitleModule(), tasks(1))
    return r.budget.spent


def test_max_cost_holds_with_many_calls_in_flight(llm_server, lm_config, home):
    cfg = lm_config.with_(max_tokens=64)
    llm_server.state.latency = 0.05
    one = _call_cost(llm_server, cfg, home)
    assert one > 0
    llm_server.reset()
    llm_server.add("", fields=GOOD)
    budget = 8 * one
    r = runner(cfg, home, concurrency=16, max_cost=budget, max_reasks=0)
    res = r.run(TitleModule(), tasks(60))
    assert res.stopped_by_budget and 0 < llm_server.calls < 60
    assert r.budget.spent <= budget + one  # overshoot at most one call
    assert abs(r.budget.spent - llm_server.calls * one) < one / 2  # every paid call is counted


def test_spend_is_cumulative_over_stages_and_resumes(llm_server, lm_config, home):
    lm_config = lm_config.with_(max_tokens=64)
    one = _call_cost(llm_server, lm_config, home)
    llm_server.reset()
    llm_server.add("", fields=GOOD)
    budget = 6 * one
    r = runner(lm_config, home, concurrency=2, max_cost=budget, max_reasks=0)
    first = r.run(TitleModule(), tasks(40), label="stage-a")
    calls_a = llm_server.calls
    assert first.stopped_by_budget and calls_a > 0
    second = r.run(TitleModule(), tasks(40, "another stage"), label="stage-b")  # same command, next stage
    # what stage a spent counts: stage b gets only what is left (a fresh budget would allow about 6 calls)
    assert second.stopped_by_budget and llm_server.calls - calls_a <= 1 and r.budget.spent <= budget
    calls_b = llm_server.calls
    # the re-run of the command (a fresh runner, same budget) finds the spend in the journal
    again = runner(lm_config, home, concurrency=2, max_cost=budget, max_reasks=0).run(TitleModule(), tasks(40),
                                                                                      label="stage-a")
    assert again.stopped_by_budget and llm_server.calls - calls_b <= 1
    # a larger budget continues where it stopped
    more = runner(lm_config, home, concurrency=2, max_cost=budget * 100, max_reasks=0).run(
        TitleModule(), tasks(40), label="stage-a")
    assert more.complete and llm_server.calls == 40 + (calls_b - calls_a)  # each stage-a item paid once


def test_dry_run_counts_reasks(llm_server, lm_config, home):
    r0 = runner(lm_config, home, max_reasks=0).estimate(TitleModule(), tasks(5))
    r2 = runner(lm_config, home, max_reasks=2).estimate(TitleModule(), tasks(5))
    assert r0["calls_max"] == 5 and r2["calls_max"] == 15
    assert r2["output_tokens_max"] == 3 * r0["output_tokens_max"]
    assert r2["input_tokens"] > 3 * r0["input_tokens"]  # re-asks resend the prompt and the rejected answer
    assert r2["cost_max"] > 3 * r0["cost_max"] * 0.99 and llm_server.calls == 0


def test_tpm_bucket_goes_into_debt_for_large_requests():
    now = [0.0]

    async def fake_sleep(s):
        now[0] += s

    b = Bucket(600, clock=lambda: now[0], sleep=fake_sleep)  # 10 tokens/s, one second's burst = 10

    async def go():
        for _ in range(3):
            await b.take(50)  # each request is five seconds' budget
    asyncio.run(go())
    # 150 tokens at 10/s with a burst of 10: the third request may start only after 100 - 10 tokens refilled
    assert now[0] >= (150 - 50 - 10) / 10 - 1e-9


# -- endpoints that cannot serve ----------------------------------------------------------------------------
def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_closed_port_stops_within_seconds(home):
    cfg = LMConfig(model="openai/gpt-4o-mini", api_base=f"http://127.0.0.1:{_closed_port()}/v1", timeout=5)
    t0 = time.monotonic()
    with pytest.raises(EndpointUnavailable, match="Cannot reach the LLM endpoint http://127.0.0.1"):
        runner(cfg, home, backoff_max=5).run(TitleModule(), tasks(3))
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("status,words", [("401", "refused the credentials"), ("404", "HTTP 404")])
def test_auth_or_404_on_first_call_stops(llm_server, lm_config, home, status, words):
    llm_server.add("", fault=status)
    with pytest.raises(EndpointUnavailable, match=words):
        runner(lm_config, home).run(TitleModule(), tasks(5))


def test_cli_against_closed_port_exits_1_without_a_version(home, monkeypatch):
    from mira.cli import app

    from mira.cli.demo import import_samples
    from synth.store import DatasetStore

    import_samples(DatasetStore(home))
    t0 = time.monotonic()
    r = CliRunner().invoke(app, ["synth", "jd", "--jds", "sample-jd", "--name", "x", "--limit", "3",
                                 "--lm", "openai/gpt-4o-mini", "--api-base",
                                 f"http://127.0.0.1:{_closed_port()}/v1", "--home", str(home)])
    assert r.exit_code == 1, r.output
    assert "Cannot reach the LLM endpoint" in r.output and time.monotonic() - t0 < 30
    assert not (home / "datasets" / "x-anchors").exists() and not (home / "datasets" / "x-pairs").exists()


# -- keys go only where named ----------------------------------------------------------------------------------
def test_env_key_not_sent_to_a_custom_base_unless_named(llm_server, lm_config, home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leave")
    llm_server.add("", fields=GOOD)
    runner(lm_config, home).run(TitleModule(), tasks(1))
    assert "Authorization" not in llm_server.state.headers[-1]
    monkeypatch.setenv("MY_VLLM_KEY", "sk-for-this-server")
    runner(lm_config.with_(api_key_env="MY_VLLM_KEY"), home).run(TitleModule(), tasks(1, "other"))
    assert llm_server.state.headers[-1]["Authorization"] == "Bearer sk-for-this-server"


def test_key_over_plain_http_to_another_host_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_KEY", "sk-x")
    with pytest.raises(InputError, match="plain http"):
        resolve_lm_config("openai/Qwen/Qwen3-32B", "http://10.1.2.3:8000/v1", tmp_path, api_key_env="MY_KEY")
    ok = resolve_lm_config("openai/Qwen/Qwen3-32B", "https://llm.example.com/v1", tmp_path, api_key_env="MY_KEY")
    assert ok.api_key() == "sk-x" and "MY_KEY" not in json.dumps(ok.public())
    assert resolve_lm_config("openai/Qwen/Qwen3-32B", "http://10.1.2.3:8000/v1", tmp_path).api_key() is None


def test_mira_toml_names_the_key_variable(monkeypatch, tmp_path):
    (tmp_path / "mira.toml").write_text('[lm]\nmodel = "openai/m"\napi_base = "https://h/v1"\n'
                                        'api_key_env = "TEAM_KEY"\n')
    monkeypatch.setenv("TEAM_KEY", "sk-team")
    assert resolve_lm_config(home=tmp_path).api_key() == "sk-team"
    monkeypatch.delenv("TEAM_KEY")
    with pytest.raises(InputError, match="TEAM_KEY"):
        resolve_lm_config(home=tmp_path)


# -- the summary table -------------------------------------------------------------------------------------------
def test_every_llm_command_ends_with_the_summary(llm_server, home):
    from mira.cli import app

    from mira.cli.demo import import_samples
    from synth.store import DatasetStore

    import_samples(DatasetStore(home))
    r = CliRunner().invoke(app, ["synth", "jd", "--jds", "sample-jd", "--name", "s", "--limit", "2", "--stages", "1",
                                 "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url, "--home", str(home)])
    assert r.exit_code == 0, r.output
    rows = dict(re.findall(r"│ ([^│]+?)\s+│\s+([^│]+?) │", r.output))
    # the scripted server has no rule: every answer is unparseable, re-asked once (max_reasks 1), then rejected
    assert (rows["items finished"], rows["kept"], rows["rejected"]) == ("2", "0", "2")
    assert rows["LLM calls"] == str(llm_server.calls) == "4" and rows["re-asked"] == "2"
    assert rows["answers from cache"] == "0" and rows["retried"] == "0"
    assert rows["rejected: the answer could not be parsed"] == "2"
    # tokens in: what the server counted on the requests it got (its usage is len(prompt) // 4)
    tin = sum(max(1, len("\n".join(str(m.get("content", "")) for m in b["messages"])) // 4)
              for b in llm_server.state.requests)
    got_in, got_out = (int(x.replace(",", "")) for x in rows["tokens in / out"].split(" / "))
    assert got_in == tin and got_out > 0
    # cost at gpt-4o-mini's list price, $0.15 / $0.60 per million tokens in / out
    assert rows["cost"] == f"${(got_in * 0.15 + got_out * 0.60) / 1e6:.4f}"
    assert "LLM summary" in r.output and "wall seconds" in rows
