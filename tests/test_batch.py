"""`--batch` (#30): a batched `synth jd` against a local OpenAI-compatible batch server gives the online run's dataset
versions; resume after kill -9 attaches to the journaled batch; expired requests are retried; re-asks go out as a
second batch; the dry run prices at the batch rate; --batch --ray is refused."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.store import DatasetStore
from tests.batch_server import BatchServer
from tests.llm_server import render_fields
from tests.scripted_llm import answer

ROOT = Path(__file__).resolve().parent.parent
REASK = "Your previous answer was rejected"
cli = CliRunner()


@pytest.fixture(scope="module")
def _bserver():
    srv = BatchServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def server(_bserver):
    _bserver.reset()
    yield _bserver
    _bserver.reset()


def _card(msgs):
    user = next(m["content"] for m in msgs if m["role"] == "user")
    return user.split("<<<ANCHOR\n")[1].split("\nANCHOR>>>")[0]


def _script(server):
    """The scripted LLM of tests/test_synth_jd.py: the first paraphrase answer is a near-copy (one re-ask)."""
    server.add("rewrite a structured job anchor", times=1, fn=lambda msgs: render_fields(
        {"title": _card(msgs).splitlines()[0].removeprefix("Title: "), "text": _card(msgs)}))
    server.add("", fn=answer)


def _args(server, home, *extra):
    return ["synth", "jd", "--jds", "sample-jd", "--name", "s", "--limit", "8", "--lm", "openai/gpt-4o-mini",
            "--api-base", server.url, "--home", str(home), *extra]


def _home(tmp_path, name):
    h = tmp_path / name
    h.mkdir()
    import_samples(DatasetStore(h))
    return h


def _versions(home):
    store = DatasetStore(home)
    return store.resolve("s-anchors").version, store.resolve("s-pairs").version


def _online(server, tmp_path):
    _script(server)
    home = _home(tmp_path, "online")
    r = cli.invoke(app, _args(server, home), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    server.reset()
    return _versions(home)


def test_batched_synth_jd_equals_online_and_reasks_go_in_a_second_batch(server, tmp_path):
    ref = _online(server, tmp_path)
    assert server.batches == {}
    _script(server)
    server.submit_429 = 1  # the first batch creation is rate limited: retried after Retry-After
    home = _home(tmp_path, "batched")
    r = cli.invoke(app, _args(server, home, "--batch", "--poll", "0.01"), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert _versions(home) == ref
    assert server.state.counts["requests"] == 0  # not one online call
    assert server.state.counts["submit_429"] == 1
    reask_batches = [b for b in server.batches if any(REASK in json.dumps(x) for x in server.batch_lines(b))]
    # re-asks never share a batch with first asks: a stage's re-asks go out as a second, smaller batch
    assert reask_batches and all(REASK in json.dumps(x) for b in reask_batches for x in server.batch_lines(b))
    near = [b for b in reask_batches if any("near-copy" in json.dumps(x) for x in server.batch_lines(b))]
    assert len(near) == 1 and len(server.batch_lines(near[0])) == 1  # the one paraphrase that copied its anchor
    first = min(server.batches, key=lambda b: int(b.split("_")[1]))
    assert first not in reask_batches and len(server.batch_lines(first)) == 8
    log = [json.loads(x) for f in home.glob(".mira/runs/*/batches.jsonl") for x in f.read_text().splitlines()]
    assert {e["batch"] for e in log if "input_sha256" in e} == set(server.batches)
    assert {e["batch"] for e in log if "closed" in e} == set(server.batches)
    made = len(server.batches)
    again = cli.invoke(app, _args(server, home, "--batch", "--poll", "0.01"), catch_exceptions=False)
    assert again.exit_code == 0 and len(server.batches) == made  # cached / journaled items never go in a batch
    assert _versions(home) == ref


def test_reask_online(server, tmp_path):
    _script(server)
    home = _home(tmp_path, "h")
    r = cli.invoke(app, _args(server, home, "--batch", "--poll", "0.01", "--reask-online"), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert not any(REASK in json.dumps(x) for b in server.batches for x in server.batch_lines(b))
    online = [q["messages"][-1]["content"] for q in server.state.requests]
    assert online and all(REASK in m for m in online)  # every online call is a re-ask, and only re-asks go online
    assert sum("near-copy" in m for m in online) == 1


def test_expired_requests_are_retried_once_in_the_next_batch(server, tmp_path):
    ref = _online(server, tmp_path)
    _script(server)
    from tests.llm_server import Rule

    server.state.rules.insert(0, Rule(match="conservative structured anchor", fault="expired", times=2))
    home = _home(tmp_path, "batched")
    r = cli.invoke(app, _args(server, home, "--batch", "--poll", "0.01", "--batch-size", "5"),
                   catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert _versions(home) == ref
    stage1 = [b for b in server.batches if "conservative structured anchor" in json.dumps(server.batch_lines(b))]
    # 8 JDs at --batch-size 5: two batches; the two expired requests went out again together, once
    assert sorted(len(server.batch_lines(b)) for b in stage1) == [2, 3, 5]
    assert "fault:batch_expired" in r.output


def test_expiry_bound_gives_a_retryable_reject(server, tmp_path):
    server.add("Acme Widget", fault="expired")  # never answered
    server.add("", fields={"title": "Engineer", "years": 3})
    from synth.runner import Task
    from tests.toy_module import TitleModule

    runner, ex = _runner(server, tmp_path / "h", grounded=False)
    res = runner.run(TitleModule(), [Task("a", {"jd": "Acme Widget maker"}), Task("b", {"jd": "job number 2"})])
    out = {o.key: o for o in res.outcomes}
    assert out["b"].ok and not out["a"].ok and out["a"].retryable
    assert "batch_expired" in out["a"].reason
    assert len(ex.submitted) == 3  # the first batch and two retries of the expired request


def test_dry_run_prices_at_the_batch_rate(server, tmp_path):
    home = _home(tmp_path, "h")
    online = cli.invoke(app, _args(server, home, "--dry-run"), catch_exceptions=False)
    batched = cli.invoke(app, _args(server, home, "--dry-run", "--batch"), catch_exceptions=False)
    assert online.exit_code == 0 and batched.exit_code == 0, online.output + batched.output

    def cost(out):
        return float(out.split("cost (at most)")[1].split("$")[1].split()[0])

    assert cost(batched.output) == pytest.approx(cost(online.output) / 2, abs=1e-4)  # printed to 4 decimals
    assert "batch prices from litellm's cost map" in batched.output
    assert server.batches == {} and server.state.counts["requests"] == 0


def test_batch_with_ray_is_refused(server, tmp_path):
    r = cli.invoke(app, _args(server, _home(tmp_path, "h"), "--batch", "--ray"))
    assert r.exit_code != 0
    assert "--batch and --ray do not go together" in r.output
    assert server.batches == {}


def test_kill_during_wait_reattaches_without_a_second_submit(server, tmp_path):
    ref = _online(server, tmp_path)
    _script(server)
    server.hold = True  # the batch stays in_progress: the run waits
    home = _home(tmp_path, "killed")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    cmd = [sys.executable, "-m", "mira.cli", *_args(server, home, "--batch", "--poll", "0.05")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, log = time.time() + 120, None
    while time.time() < deadline and log is None:
        found = list(home.glob(".mira/runs/*/batches.jsonl"))
        if found and '"input_sha256"' in found[0].read_text():  # the batch is journaled: the wait has begun
            log = found[0]
        time.sleep(0.05)
    assert log is not None, proc.stderr.read() if proc.poll() is not None else "no batch was journaled"
    time.sleep(0.3)  # a few polls while in_progress
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(server.batches) == ["batch_1"]
    entry = [json.loads(x) for x in log.read_text().splitlines() if "input_sha256" in x][0]
    assert entry["batch"] == "batch_1" and entry["requests"] == 8 and len(entry["input_sha256"]) == 64
    assert server.batches["batch_1"]["status"] == "in_progress"

    server.hold = False
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    print(out.stderr)
    assert "attaching to batch batch_1" in out.stderr
    assert _versions(home) == ref
    inputs = [server.files[b["input_file_id"]] for b in server.batches.values()]
    assert len(inputs) == len(set(inputs))  # no batch was submitted twice
    stage1 = [b for b in server.batches if "conservative structured anchor" in json.dumps(server.batch_lines(b))]
    assert stage1 == ["batch_1"]


def _runner(server, home, executor=True, grounded=True, **rc):
    from synth.lm.config import LMConfig
    from synth.runner import Runner, RunnerConfig
    from synth.runner.batch import BatchExecutor

    cfg = LMConfig(model="openai/gpt-4o-mini", api_base=server.url, timeout=5, grounded=grounded)
    ex = BatchExecutor(cfg, poll=0.01) if executor else None
    return Runner(cfg, home, RunnerConfig(progress=False, **rc), executor=ex), ex


def _tasks(n):
    from synth.runner import Task

    return [Task(f"job{i}", {"jd": f"job number {i}: senior welder"}, grounding={"title": ["Welder", "Fitter"]})
            for i in range(n)]


def test_batch_lines_are_the_online_requests(server, tmp_path):
    """--grounded: the same messages, params and per-item response_format as the online call, byte for byte."""
    from tests.toy_module import TitleModule

    server.add("", fields={"title": "Welder", "years": 4})
    online, _ = _runner(server, tmp_path / "a", executor=False)
    assert online.run(TitleModule(), _tasks(5)).complete
    sent = sorted(json.dumps(b, sort_keys=True) for b in server.state.requests)
    batched, ex = _runner(server, tmp_path / "b")
    res = batched.run(TitleModule(), _tasks(5))
    assert res.complete and [o.output for o in res.outcomes] == [{"title": "Welder", "years": 4}] * 5
    lines = [x for b in ex.submitted for x in server.batch_lines(b)]
    assert sorted(json.dumps(x["body"], sort_keys=True) for x in lines) == sent
    assert all(x["body"]["response_format"]["type"] == "json_schema" for x in lines)
    assert {x["url"] for x in lines} == {"/v1/chat/completions"} and len({x["custom_id"] for x in lines}) == 5
    # cost at the batch price: half of gpt-4o-mini's online price
    from synth.runner.cost import dollars

    paid = sum(o.cost for o in res.outcomes)
    assert paid == pytest.approx(sum(dollars("openai/gpt-4o-mini", o.usage["prompt_tokens"],
                                             o.usage["completion_tokens"]) for o in res.outcomes) / 2)


def test_max_cost_cuts_the_batch_and_the_rest_waits(server, tmp_path):
    from tests.toy_module import TitleModule

    server.add("", fields={"title": "Welder", "years": 4})
    probe, _ = _runner(server, tmp_path / "h", max_reasks=0)
    per_call = probe.estimate(TitleModule(), _tasks(10))["cost_max"] / 10  # worst case per call, batch price
    probe.close()
    capped, ex = _runner(server, tmp_path / "h", max_reasks=0, max_cost=per_call * 4.5)
    res = capped.run(TitleModule(), _tasks(10))
    assert res.stopped_by_budget and 0 < len(res.outcomes) < 10
    assert len(ex.submitted) == 1 and len(server.batch_lines(ex.submitted[0])) == len(res.outcomes)
    assert capped.budget.spent <= per_call * 4.5
    rest, ex2 = _runner(server, tmp_path / "h", max_reasks=0)
    res2 = rest.run(TitleModule(), _tasks(10))
    assert res2.complete and res2.stats.resumed == len(res.outcomes)
    assert len(server.batch_lines(ex2.submitted[0])) == 10 - len(res.outcomes)  # none sent twice
    again, ex3 = _runner(server, tmp_path / "h", max_reasks=0)
    assert again.run(TitleModule(), _tasks(10)).complete and ex3.submitted == []  # all journaled: no batch


def test_anthropic_message_batches(server, tmp_path):
    """The Messages API shape: system prompt apart, the same turns and max_tokens; an expired request retried."""
    from synth.lm.config import LMConfig
    from synth.runner import Runner, RunnerConfig
    from synth.runner.batch import BatchExecutor
    from tests.toy_module import TitleModule

    server.add("", fields={"title": "Welder", "years": 4})
    online, _ = _runner(server, tmp_path / "a", executor=False, grounded=False)
    tasks = _tasks(3)
    assert online.run(TitleModule(), tasks).complete
    sent = {json.dumps(b["messages"]) for b in server.state.requests}
    server.reset()
    server.add("job number 1", fault="expired", times=1)
    server.add("", fields={"title": "Welder", "years": 4})
    cfg = LMConfig(model="anthropic/claude-3-5-haiku-20241022", api_base=server.url, timeout=5)
    ex = BatchExecutor(cfg, poll=0.01)
    res = Runner(cfg, tmp_path / "b", RunnerConfig(progress=False), executor=ex).run(TitleModule(), tasks)
    assert res.complete and all(o.output == {"title": "Welder", "years": 4} for o in res.outcomes)
    assert ex.submitted == ["msgbatch_1", "msgbatch_2"] and len(server.batches["msgbatch_2"]["requests"]) == 1
    p = server.batches["msgbatch_1"]["requests"][0]["params"]
    assert p["model"] == "claude-3-5-haiku-20241022" and p["max_tokens"] == cfg.max_tokens
    got = {json.dumps([{"role": "system", "content": r["params"]["system"]}, *r["params"]["messages"]])
           for r in server.batches["msgbatch_1"]["requests"]}
    assert got == sent
    assert res.stats.faults["batch_expired"] == 1


def _run_batch(folder, stop):
    """Plays `vllm run-batch -i IN -o OUT`: answers every line of each input file, output in one go."""
    from tests.llm_server import auto_answer

    while not stop.is_set():
        for inp in folder.glob("mira-*.jsonl"):
            out = inp.with_name(inp.name.removesuffix(".jsonl") + ".output.jsonl")
            if inp.name.endswith(".output.jsonl") or out.exists():
                continue
            res = []
            for i, raw in enumerate(inp.read_text().splitlines()):
                line = json.loads(raw)
                text = auto_answer(line["body"]["messages"])
                res.append({"id": f"vllm-{i}", "custom_id": line["custom_id"], "error": None, "response": {
                    "status_code": 200, "request_id": f"r{i}", "body": {
                        "object": "chat.completion", "usage": {"prompt_tokens": 20, "completion_tokens": 5},
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}]}}})
            out.write_text("".join(json.dumps(x) + "\n" for x in res))
        time.sleep(0.01)


def test_batch_dir_for_vllm_run_batch(server, tmp_path):
    import threading

    from synth.lm.config import LMConfig
    from synth.runner import Runner, RunnerConfig
    from synth.runner.batch import BatchExecutor
    from tests.toy_module import TitleModule

    folder, stop = tmp_path / "batches", threading.Event()
    cfg = LMConfig(model="hosted_vllm/Qwen/Qwen3-32B", api_base=server.url, timeout=5)
    ex = BatchExecutor(cfg, poll=0.01, folder=folder)
    t = threading.Thread(target=_run_batch, args=(folder, stop), daemon=True)
    t.start()
    try:
        res = Runner(cfg, tmp_path / "h", RunnerConfig(progress=False), executor=ex).run(TitleModule(), _tasks(4))
    finally:
        stop.set()
        t.join(5)
    assert res.complete and [o.output["years"] for o in res.outcomes] == [1] * 4
    inp = folder / f"{ex.submitted[0]}.jsonl"
    lines = [json.loads(x) for x in inp.read_text().splitlines()]
    assert len(ex.submitted) == 1 and len(lines) == 4 and lines[0]["body"]["model"] == "Qwen/Qwen3-32B"
    assert server.calls == 0  # nothing online


def test_batch_dir_needs_batch(server, tmp_path):
    r = cli.invoke(app, _args(server, _home(tmp_path, "h"), "--batch-dir", str(tmp_path / "b")))
    assert r.exit_code != 0 and "--batch-dir goes with --batch" in r.output


def test_batch_price_falls_back_to_a_stated_half():
    from synth.runner.cost import batch_prices, dollars

    inp, out, own = batch_prices("openai/gpt-3.5-turbo")  # in the cost map without batch prices
    assert not own
    assert (inp, out) == pytest.approx((dollars("openai/gpt-3.5-turbo", 1, 0) / 2,
                                        dollars("openai/gpt-3.5-turbo", 0, 1) / 2))
    assert batch_prices("openai/gpt-4o-mini") == (7.5e-08, 3e-07, True)  # litellm's own batch prices


def test_killed_between_create_and_journal_finds_the_batch(server, tmp_path, monkeypatch):
    """The one window before the journal line: the re-run finds the batch by the input name it was created with."""
    from synth.runner.batch import BatchLog
    from tests.toy_module import TitleModule

    class Killed(Exception):
        pass

    def die(*a, **k):
        raise Killed()

    server.add("", fields={"title": "Welder", "years": 4})
    first, _ = _runner(server, tmp_path / "h")
    with monkeypatch.context() as m:
        m.setattr(BatchLog, "submitted", die)
        with pytest.raises(Killed):
            first.run(TitleModule(), _tasks(3))
    assert list(server.batches) == ["batch_1"]
    again, ex = _runner(server, tmp_path / "h")
    res = again.run(TitleModule(), _tasks(3))
    assert res.complete and ex.submitted == [] and list(server.batches) == ["batch_1"]


def test_batched_judge_pool_equals_online(server, tmp_path):
    from tests.scripted import answer as judge_answer

    versions = []
    for name, extra in (("online", []), ("batched", ["--batch", "--poll", "0.01"])):
        server.reset()
        server.add("", fn=judge_answer)
        home = _home(tmp_path, name)
        r = cli.invoke(app, ["judge", "pool", "--pool", "sample-rjdb", "--name", "j", "--lm", "openai/gpt-4o-mini",
                             "--api-base", server.url, "--home", str(home), *extra], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        versions.append(DatasetStore(home).resolve("j").version)
    assert server.calls == 0 and len(server.batches) >= 2  # requirement extraction, then the judge
    assert versions[0] == versions[1]


def test_a_batch_the_provider_no_longer_knows_is_submitted_again(server, tmp_path):
    from synth.runner.batch import BatchFailed
    from tests.toy_module import TitleModule

    server.add("", fields={"title": "Welder", "years": 4})
    first, ex = _runner(server, tmp_path / "h")
    real = ex.api.retrieve

    def forgotten(batch_id):  # the provider forgot the batch (retention, another account): 404 on retrieve
        server.batches.pop(batch_id, None)
        return real(batch_id)

    ex.api.retrieve = forgotten
    with pytest.raises(BatchFailed, match="cannot be read"):
        first.run(TitleModule(), _tasks(2))
    again, ex2 = _runner(server, tmp_path / "h")
    assert again.run(TitleModule(), _tasks(2)).complete and len(ex2.submitted) == 1


def test_the_file_size_limit_splits_a_round(server, tmp_path):
    from tests.toy_module import TitleModule

    server.add("", fields={"title": "Welder", "years": 4})
    runner, ex = _runner(server, tmp_path / "h")
    ex.max_bytes = 2 * 1700  # two of these lines (~1.6 kB each with the grounded schema), not three
    res = runner.run(TitleModule(), _tasks(5))
    sizes = [len(server.files[server.batches[b]["input_file_id"]]) for b in ex.submitted]
    assert res.complete
    assert [len(server.batch_lines(b)) for b in ex.submitted] == [2, 2, 1] and max(sizes) <= ex.max_bytes
