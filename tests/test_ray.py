"""LLM calls and corpus encoding on Ray Data (#17): a local cluster with 2 workers and the scripted server; the same
dataset versions as one process, a killed worker replaced with nothing answered lost or repeated, cached items never
dispatched, re-asks as a second round, RPM and budget held cluster-wide; several endpoints share the calls and a
failing one is backed off."""

import os
import signal
import threading
import time

import pytest
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.errors import InputError
from synth.runner import Runner, RunnerConfig, Task
from synth.store import DatasetStore
from tests.llm_server import LLMServer
from tests.scripted_llm import answer
from tests.toy_module import TitleModule

GOOD = {"title": "Data Scientist", "years": 3}


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def tasks(n):
    return [Task(f"job{i}", {"jd": f"job number {i}: we need a data scientist"}) for i in range(n)]


def test_synth_jd_on_ray_writes_the_single_process_versions(cluster, llm_server, tmp_path, monkeypatch):
    llm_server.add("", fn=answer)
    refs, calls = {}, {}
    for mode in ("one", "ray"):
        home = tmp_path / mode
        home.mkdir()
        monkeypatch.setenv("MIRA_HOME", str(home))
        import_samples(DatasetStore(home))
        before = llm_server.calls
        args = ["synth", "jd", "--jds", "sample-jd", "--name", "s", "--limit", "6", "--lm", "openai/gpt-4o-mini",
                "--api-base", llm_server.url] + (["--ray", "--workers", "2"] if mode == "ray" else [])  # bare --ray: a local cluster
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        st = DatasetStore(home)
        refs[mode] = [st.resolve(n).ref for n in ("s-anchors", "s-pairs")]
        calls[mode] = llm_server.calls - before
    assert refs["ray"] == refs["one"] and calls["ray"] == calls["one"] > 6


def _worker_pids(cls: str = "LLMBatchWorker") -> set[int]:
    """This machine's Ray Data actor processes of `cls` (Ray titles them `ray::MapWorker(MapBatches(cls))`)."""
    pids = set()
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                if f"MapBatches({cls})".encode() in fh.read():
                    pids.add(int(d))
        except (OSError, ValueError):
            continue
    return pids


def test_a_killed_worker_is_replaced_and_nothing_answered_is_repeated(cluster, llm_server, lm_config, home):
    from synth.runner.ray_exec import RayExecutor

    llm_server.state.latency = 0.5
    llm_server.add("", fields=GOOD)
    ex = RayExecutor(lm_config, "local", workers=2, concurrency=2)
    runner = Runner(lm_config, home, RunnerConfig(concurrency=4, progress=False, backoff_max=0.2), executor=ex)
    seen: dict[str, set] = {}

    def kill_one():
        while llm_server.calls < 10:
            time.sleep(0.02)
        seen["before"] = _worker_pids()
        os.kill(min(seen["before"]), signal.SIGKILL)
        for _ in range(600):  # Ray Data restarts the actor in a new process
            seen["after"] = _worker_pids() - seen["before"]
            if seen["after"]:
                break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one)
    killer.start()
    res = runner.run(TitleModule(), tasks(80))
    killer.join()
    assert len(seen["before"]) == 2 and seen["after"]  # a replacement worker was started
    assert [o.ok for o in res.outcomes] == [True] * 80 and all(o.output == GOOD for o in res.outcomes)
    # only the dead worker's unreturned blocks (2 in flight, 2 calls each) can be asked twice
    assert 80 <= llm_server.calls <= 80 + 4
    before = llm_server.calls
    again = Runner(lm_config, home, RunnerConfig(concurrency=4, progress=False), executor=ex).run(TitleModule(),
                                                                                                 tasks(80))
    assert llm_server.calls == before and all(o.ok for o in again.outcomes)  # a re-run is answered from here


def test_reasks_go_out_as_a_second_round_like_in_one_process(cluster, llm_server, lm_config, tmp_path):
    """Answers that fail the check are re-asked in round 2 with the re-ask turns; the outcomes equal one process."""
    from synth.runner.ray_exec import RayExecutor

    def check(task, out):
        return None if out.get("title") else "the title is empty"

    runs = {}
    for mode in ("one", "ray"):
        llm_server.reset()
        llm_server.add("", fields={"title": "", "years": 3}, times=5)  # the first five answers fail the check
        llm_server.add("", fields=GOOD)
        ex = RayExecutor(lm_config, "local", workers=2, concurrency=4) if mode == "ray" else None
        res = Runner(lm_config, tmp_path / mode, RunnerConfig(progress=False), executor=ex).run(
            TitleModule(), tasks(12), check=check)
        runs[mode] = res
        assert llm_server.calls == 17 and res.stats.reasks == 5 and res.stats.calls == 17
        reasked = [b for b in llm_server.state.requests if "the title is empty" in str(b["messages"])]
        assert len(reasked) == 5 and all(b["messages"][-2]["role"] == "assistant" for b in reasked)
    assert [(o.key, o.ok, o.output) for o in runs["ray"].outcomes] == \
        [(o.key, o.ok, o.output) for o in runs["one"].outcomes]
    assert sorted(o.attempts for o in runs["ray"].outcomes) == [1] * 7 + [2] * 5


def test_rpm_and_max_cost_hold_across_the_cluster(cluster, llm_server, lm_config, home):
    """One limiter actor for every worker: 300 RPM (a burst of 5, then 5 a second) spaces 25 requests over 4 s from
    the first grant (a limiter per worker would let them through in 1.5 s); the server sees them over >= 2.5 s (the
    first burst reaches it a little late: the workers' first connections). --max-cost stops the run with at most
    one call's overshoot, every paid call counted."""
    from synth.runner.ray_exec import RayExecutor

    llm_server.add("", fields=GOOD)
    ex = RayExecutor(lm_config, "local", workers=2, concurrency=8)
    res = Runner(lm_config, home / "rpm", RunnerConfig(rpm=300, progress=False), executor=ex).run(
        TitleModule(), tasks(25))
    arrivals = llm_server.state.arrivals
    assert all(o.ok for o in res.outcomes) and len(arrivals) == 25 and arrivals[-1] - arrivals[0] >= 2.5
    cfg = lm_config.with_(max_tokens=64)
    probe = Runner(cfg, home / "probe", RunnerConfig(progress=False))
    probe.run(TitleModule(), tasks(1))
    one = probe.budget.spent
    llm_server.reset()
    llm_server.add("", fields=GOOD)
    llm_server.state.latency = 0.05
    r = Runner(cfg, home / "cost", RunnerConfig(max_cost=8 * one, max_reasks=0, progress=False),
               executor=RayExecutor(cfg, "local", workers=2, concurrency=8))
    res = r.run(TitleModule(), tasks(60))
    assert res.stopped_by_budget and 0 < llm_server.calls < 60 and len(res.outcomes) == llm_server.calls
    assert r.budget.spent <= 8 * one + one and abs(r.budget.spent - llm_server.calls * one) < one / 2


def test_driver_killed_mid_run_resumes_without_repeating(cluster, llm_server, tmp_path):
    """kill -9 of the driver (a real subprocess on the test's cluster): the re-run writes the one-process version,
    and only calls in flight at the kill (2 workers x 2 blocks x 4) can be made twice."""
    import subprocess
    import sys

    from tests.test_runner_resume import N, SCRIPT, _answer, _run

    llm_server.state.latency = 0.3
    llm_server.add("job number", fn=_answer)
    one = tmp_path / "one.py"
    one.write_text(SCRIPT)
    ref_version, _ = _run(one, llm_server.url, tmp_path / "reference")
    llm_server.reset()
    llm_server.add("job number", fn=_answer)
    script = tmp_path / "on_ray.py"
    script.write_text(SCRIPT.replace("res = r.run(", "from synth.runner.ray_exec import RayExecutor\n"
                                     "r.executor = RayExecutor(r.lm_config, 'auto', workers=2, concurrency=4)\n"
                                     "res = r.run("))
    home = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), llm_server.url, str(home)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline, journal = time.time() + 120, None
    while time.time() < deadline and journal is None:
        found = list(home.glob(".mira/runs/*/journal.jsonl"))
        if found and sum(1 for _ in open(found[0])) >= 20:
            journal = found[0]
        time.sleep(0.01)
    assert journal is not None, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no progress"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = sum(1 for line in open(journal) if '"key"' in line)
    calls_first = llm_server.calls
    assert done_at_kill < N
    version, n = _run(script, llm_server.url, home)
    assert (version, int(n)) == (ref_version, N)
    # no journaled item is asked again, nor any answer the cache holds
    assert llm_server.calls - calls_first <= N - done_at_kill
    assert llm_server.calls <= N + 16


def test_cached_items_are_never_dispatched(cluster, llm_server, lm_config, home):
    from synth.runner.ray_exec import RayExecutor

    llm_server.add("", fields=GOOD)
    ex = RayExecutor(lm_config, "local", workers=2, concurrency=4)
    Runner(lm_config, home, RunnerConfig(progress=False), executor=ex).run(TitleModule(), tasks(10))
    assert llm_server.calls == 10
    res = Runner(lm_config, home, RunnerConfig(progress=False), executor=ex).run(TitleModule(), tasks(25))
    assert llm_server.calls == 25 and res.stats.calls == 15 and all(o.ok for o in res.outcomes)


def test_workers_send_the_key_the_driver_was_given(cluster, llm_server, lm_config, home, monkeypatch):
    """The key is read on the driver and handed to each worker in memory: the cluster's processes were started
    before the variable existed, so they can only have it from the driver."""
    from synth.runner.ray_exec import RayExecutor

    monkeypatch.setenv("MIRA_TEST_RAY_KEY", "sk-ray-sentinel")
    cfg = lm_config.with_(api_key_env="MIRA_TEST_RAY_KEY")
    llm_server.add("", fields=GOOD)
    ex = RayExecutor(cfg, "local", workers=2, concurrency=2)
    res = Runner(cfg, home, RunnerConfig(progress=False), executor=ex).run(TitleModule(), tasks(4))
    assert all(o.ok for o in res.outcomes)
    assert {h.get("Authorization") for h in llm_server.state.headers} == {"Bearer sk-ray-sentinel"}


def test_ray_missing_says_how_to_install(monkeypatch, lm_config):
    import sys

    from synth.runner.ray_exec import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r'pip install -e "\.\[ray\]"'):
        RayExecutor(lm_config)


def test_bare_ray_means_a_local_cluster():
    from mira.cli import bare_ray

    assert bare_ray(["synth", "jd", "--ray", "--workers", "2"]) == ["synth", "jd", "--ray", "local", "--workers", "2"]
    assert bare_ray(["judge", "pool", "--ray"]) == ["judge", "pool", "--ray", "local"]
    assert bare_ray(["eval", "global", "--ray", "ray://head:10001"]) == ["eval", "global", "--ray", "ray://head:10001"]


def test_several_endpoints_share_the_calls_and_a_failing_one_is_backed_off(llm_server, lm_config, home):
    other = LLMServer().start()
    try:
        llm_server.add("", fields=GOOD)
        other.add("", fields=GOOD)
        cfg = lm_config.with_(more_bases=(other.url,))
        res = Runner(cfg, home, RunnerConfig(concurrency=8, progress=False)).run(TitleModule(), tasks(40))
        assert all(o.ok for o in res.outcomes) and llm_server.calls + other.calls == 40
        assert min(llm_server.calls, other.calls) >= 10  # spread, not all on the first
        other.reset()
        other.add("", fault="500")  # the second server breaks: the first carries on
        before = llm_server.calls
        res = Runner(cfg, home / "b", RunnerConfig(concurrency=8, progress=False)).run(
            TitleModule(), [Task(f"n{i}", {"jd": f"new job {i}"}) for i in range(40)])
        assert all(o.ok for o in res.outcomes) and llm_server.calls - before == 40
        assert other.calls <= 8  # tried, then backed off (1 s, doubling) while the healthy one served
        assert res.stats.retries == 0  # the failover happened inside the call: no runner retry was needed
    finally:
        other.stop()


def test_api_base_given_twice_on_the_command_line(llm_server, home, store, monkeypatch):
    from synth.lm.config import resolve_lm_config

    cfg = resolve_lm_config("openai/m", [llm_server.url, "http://127.0.0.1:9/v1"], home)
    assert cfg.endpoints == (llm_server.url, "http://127.0.0.1:9/v1")
    assert "more_bases" not in cfg.public()  # which endpoint answered does not change the cache key
    monkeypatch.setenv("MIRA_API_BASE", f"{llm_server.url}, http://127.0.0.1:9/v1")
    assert resolve_lm_config("openai/m", None, home).endpoints == cfg.endpoints


def test_corpus_encoded_on_ray_workers_matches_this_process(cluster, store, tmp_path):
    """`mira eval global --ray`: the corpus is encoded in shards on 2 workers, stored in the embedding cache, and
    the metrics equal a run that encodes here."""
    import json

    import numpy as np

    from train.embed_cache import EmbeddingCache
    from train.scorer import make_scorer
    from train.ray_encode import RayEncoder

    import_samples(store)
    texts = [r["text"] for r in store.resolve("sample-cv").iter_records()][:40]
    sc = make_scorer("zero-shot", max_length=128)
    here = sc.embed(texts, EmbeddingCache(tmp_path / "a.sqlite"))
    sc.remote = RayEncoder("local", workers=2, shard=8)
    cache = EmbeddingCache(tmp_path / "b.sqlite")
    there = sc.embed(texts, cache)
    assert there.shape == here.shape and np.allclose(there, here, atol=1e-5)
    assert cache.misses == 40
    again = sc.embed(texts, cache)  # read back from the cache: the vectors stored for each text, in order
    assert cache.hits == 40 and cache.misses == 40 and np.allclose(again, here, atol=1e-5)
    out = {}
    for mode, extra in (("one", []), ("ray", ["--ray", "local", "--workers", "2"])):
        import_samples(DatasetStore(tmp_path / mode))  # separate homes: separate embedding caches
        r = CliRunner().invoke(app, ["eval", "global", "--pool", "sample-rjdb", "--model", "zero-shot", "--k", "1,5",
                                     "--k1", "50", "--corpus", "sample-cv", "--out", str(tmp_path / f"{mode}.json"),
                                     "--home", str(tmp_path / mode)] + extra)
        assert r.exit_code == 0, r.output
        out[mode] = json.loads((tmp_path / f"{mode}.json").read_text())
    assert {k: out["ray"][k] for k in ("recall@1", "recall@5", "mrr", "corpus_size")} == \
        {k: out["one"][k] for k in ("recall@1", "recall@5", "mrr", "corpus_size")}
    # with --ray the embeddings are parquet shards: every corpus CV and pool JD is in them
    import pyarrow.parquet as pq

    shards = list((tmp_path / "ray" / ".mira" / "embeddings").rglob("part-*.parquet"))
    assert shards and not (tmp_path / "ray" / ".mira" / "embeddings.sqlite").exists()
    assert sum(pq.read_table(s).num_rows for s in shards) >= out["ray"]["corpus_size"]
