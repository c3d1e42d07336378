"""LLM calls on Ray (#17 item 1): a local cluster with 2 workers and the scripted server; the same dataset versions
as one process, a killed worker replaced with nothing answered lost or repeated, cached items never dispatched;
several endpoints share the calls and a failing one is backed off."""

import os
import signal
import threading
import time

import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.cli.demo import import_samples
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
                "--api-base", llm_server.url] + (["--ray", "local", "--workers", "2"] if mode == "ray" else [])
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        st = DatasetStore(home)
        refs[mode] = [st.resolve(n).ref for n in ("s-anchors", "s-pairs")]
        calls[mode] = llm_server.calls - before
    assert refs["ray"] == refs["one"] and calls["ray"] == calls["one"] > 6


def test_a_killed_worker_is_replaced_and_nothing_answered_is_repeated(cluster, llm_server, lm_config, home):
    from synth.runner.ray_exec import RayExecutor

    llm_server.state.latency = 0.2
    llm_server.add("", fields=GOOD)
    ex = RayExecutor(lm_config, "local", workers=2, concurrency=4)
    pids = ex.pids()
    runner = Runner(lm_config, home, RunnerConfig(concurrency=8, progress=False, backoff_max=0.2), executor=ex)

    def kill_one():
        while llm_server.calls < 10:
            time.sleep(0.02)
        os.kill(pids[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_one)
    killer.start()
    res = runner.run(TitleModule(), tasks(40))
    killer.join()
    assert [o.ok for o in res.outcomes] == [True] * 40 and all(o.output == GOOD for o in res.outcomes)
    lost = res.stats["fault:worker_lost"]
    assert lost >= 1  # the dead worker's calls in flight came back as lost and were sent again
    assert llm_server.calls <= 40 + 4  # at most its in-flight calls are asked twice; nothing answered is repeated
    assert ex.pids()[0] != pids[0]  # Ray started a replacement
    again = Runner(lm_config, home, RunnerConfig(concurrency=8, progress=False), executor=ex).run(TitleModule(),
                                                                                                 tasks(40))
    assert llm_server.calls <= 44 and all(o.ok for o in again.outcomes)  # a re-run is answered from here


def test_cached_items_are_never_dispatched(cluster, llm_server, lm_config, home):
    from synth.runner.ray_exec import RayExecutor

    llm_server.add("", fields=GOOD)
    ex = RayExecutor(lm_config, "local", workers=2, concurrency=4)
    Runner(lm_config, home, RunnerConfig(progress=False), executor=ex).run(TitleModule(), tasks(10))
    assert llm_server.calls == 10
    res = Runner(lm_config, home, RunnerConfig(progress=False), executor=ex).run(TitleModule(), tasks(25))
    assert llm_server.calls == 25 and res.stats["calls"] == 15 and all(o.ok for o in res.outcomes)


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
        assert res.stats["retries"] == 0  # the failover happened inside the call: no runner retry was needed
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
    from train.evaluate import make_scorer
    from train.ray_encode import RayEncoder

    import_samples(store)
    texts = [r["text"] for r in store.resolve("sample-cv").iter_records()][:40]
    sc = make_scorer("zero-shot", max_length=128)
    here = sc.embed(texts, EmbeddingCache(tmp_path / "a.sqlite"))
    sc.remote = RayEncoder("local", workers=2, shard=8)
    cache = EmbeddingCache(tmp_path / "b.sqlite")
    there = sc.embed(texts, cache)
    assert there.shape == here.shape and np.allclose(there, here, atol=1e-5)
    assert cache.misses == 40 and sc.embed(texts, cache) is not None and cache.hits == 40  # stored on return
    sc.remote.close()  # its workers hold the cluster's 2 CPUs
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
