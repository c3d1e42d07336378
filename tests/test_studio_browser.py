"""Mira Studio in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) over a home
built from the committed samples and a scripted-LLM run (`mira demo` and `mira judge pool`). A failing test leaves a
screenshot in $MIRA_SCREENSHOTS (default: the test's tmp folder) and says where."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip(f"chromium not installed ({CHROMIUM}, {DRIVER}): apt-get install -y chromium chromium-driver",
                allow_module_level=True)
selenium = pytest.importorskip("selenium", reason="selenium not installed (the dev extra)")
uvicorn = pytest.importorskip("uvicorn", reason="uvicorn not installed (the studio extra)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from mira.studio.app import create_app  # noqa: E402
from mira.cli import app as cli  # noqa: E402
from synth.store import DatasetStore  # noqa: E402
from tests.scripted import answer  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000"]


@pytest.fixture(scope="module")
def studio_home(tmp_path_factory, _server):
    """Samples imported, the five stages, JD–CV triplets and two judgment runs, all against the scripted server."""
    home = tmp_path_factory.mktemp("studio") / "home"
    _server.reset()
    _server.add("", fn=answer)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DSPY_CACHEDIR", str(home.parent / "dspy-cache"))
        mp.setenv("MIRA_HOME", str(home))
        runner = CliRunner()
        lm = ["--lm", "openai/gpt-4o-mini", "--api-base", _server.url]
        for args in (["demo", "--no-train", "--jds", "3", *lm],
                     ["judge", "pool", "--pool", "sample-rjdb", "--name", "sample-judgments", "--no-redact", *lm]):
            res = runner.invoke(cli, args)
            assert res.exit_code == 0, res.output
    _server.reset()
    return home


@pytest.fixture(scope="module")
def server(studio_home):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(create_app(studio_home, "alice"), log_level="warning"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    srv.should_exit = True
    th.join(10)


@pytest.fixture
def browser(tmp_path, request):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS + [f"--user-data-dir={tmp_path / 'chrome-profile'}"]:
        opts.add_argument(f)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    failed_before = request.session.testsfailed
    yield drv
    if request.session.testsfailed > failed_before:  # this test's call failed (its report is in by teardown)
        out = Path(os.environ.get("MIRA_SCREENSHOTS") or tmp_path)
        out.mkdir(parents=True, exist_ok=True)
        png = out / f"{request.node.name}.png"
        drv.save_screenshot(str(png))
        print(f"screenshot of the failing page: {png}")
    drv.quit()


def _wait(drv, css: str, timeout: float = 10):
    return WebDriverWait(drv, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def _norm(s: str) -> str:
    return " ".join(s.split()).lower()


def test_datasets_page_lists_versions_with_lineage(server, browser, studio_home):
    store = DatasetStore(studio_home)
    browser.get(server + "/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")
    assert len(rows) == len(store.all_versions())
    pairs = store.resolve("demo-jd-pairs")
    browser.find_element(By.LINK_TEXT, pairs.ref).click()
    _wait(browser, "#stages")
    stage_rows = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")
                  for r in browser.find_elements(By.CSS_SELECTOR, "#stages tbody tr")}
    for stage, c in pairs.manifest["stages"].items():
        assert stage_rows[stage][2].text == str(c["kept"])
    parents = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "a.parent")]
    assert parents == pairs.manifest["parents"]
    groups = {r.find_elements(By.TAG_NAME, "td")[0].text: int(r.find_elements(By.TAG_NAME, "td")[1].text)
              for r in browser.find_elements(By.CSS_SELECTOR, "#reject-groups tbody tr")}
    assert sum(groups.values()) == len(list(pairs.iter_rejects())) > 0
    browser.find_element(By.CSS_SELECTOR, "a.parent").click()  # lineage links lead to the parent version
    assert browser.find_element(By.TAG_NAME, "h1").text == pairs.manifest["parents"][0]


def test_pair_page_highlights_must_values_and_the_flip(server, browser, studio_home):
    store = DatasetStore(studio_home)
    pairs = store.resolve("demo-jd-pairs")
    anchors = store.resolve("demo-jd-anchors").by_id()
    flip = next(p for p in pairs.iter_records() if p["type"] == "constraint")
    anchor = anchors[flip["anchor_id"]]
    browser.get(f"{server}/r/{pairs.ref}/{flip['id']}")
    generated = _wait(browser, "#generated")
    marked = {_norm(m.text) for m in generated.find_elements(By.CSS_SELECTOR, "mark.must")}
    text = _norm(flip["text"])
    stated = {_norm(m["value"]) for m in anchor["must"] if _norm(m["value"]) in text}
    assert stated and stated <= marked  # every must value the text states is marked, and only text that is there
    assert all(m in text for m in marked)
    assert {_norm(m.text) for m in generated.find_elements(By.CSS_SELECTOR, "mark.title")} == {_norm(anchor["title"])}
    flipped = browser.find_elements(By.CSS_SELECTOR, "#diff ins.flip")
    assert flipped and _norm(flip["structured"]["to"]) in _norm(" ".join(f.text for f in flipped))
    assert browser.find_elements(By.CSS_SELECTOR, "#diff del")  # the source's words that went are shown too
    assert _norm(browser.find_element(By.CSS_SELECTOR, "#generated mark.flip").text) == _norm(flip["structured"]["to"])


def test_judgment_page_highlights_evidence_in_the_cv(server, browser, studio_home):
    store = DatasetStore(studio_home)
    jv = store.resolve("sample-judgments")
    j = next(r for r in jv.iter_records() if any(q["evidence"] for q in r["requirements"]))
    browser.get(f"{server}/r/{jv.ref}/{j['id']}")
    cv = _wait(browser, "#cv")
    marks = [_norm(m.text) for m in cv.find_elements(By.CSS_SELECTOR, "mark.evidence")]
    quotes = [_norm(q["evidence"]) for q in j["requirements"] if q["evidence"]]
    assert marks and set(marks) == set(quotes)
    verdicts = [r.find_elements(By.TAG_NAME, "td")[3].text
                for r in browser.find_elements(By.CSS_SELECTOR, "#requirements tbody tr")]
    assert verdicts == [q["verdict"] for q in j["requirements"]]
    assert browser.find_element(By.ID, "total").text == str(j["total"])


def test_label_three_items_by_keyboard_then_judge_agree(server, browser, studio_home, tmp_path):
    store = DatasetStore(studio_home)
    jv = store.resolve("sample-judgments")
    browser.get(f"{server}/review/{jv.ref}")
    body = _wait(browser, "body")
    queue = [browser.find_element(By.ID, "item").get_attribute("data-item")]
    body.send_keys("a")
    WebDriverWait(browser, 10).until(EC.url_contains("i=1"))
    queue.append(browser.find_element(By.ID, "item").get_attribute("data-item"))
    browser.find_element(By.TAG_NAME, "body").send_keys("r")
    WebDriverWait(browser, 10).until(EC.url_contains("i=2"))
    queue.append(browser.find_element(By.ID, "item").get_attribute("data-item"))
    note = browser.find_element(By.ID, "note")
    note.send_keys("strong <b>fit</b>")  # typing in the note never triggers a shortcut
    note.send_keys(Keys.ESCAPE)
    browser.find_element(By.TAG_NAME, "body").send_keys("p")
    WebDriverWait(browser, 10).until(EC.url_contains("i=3"))
    browser.refresh()
    done = {li.find_element(By.TAG_NAME, "a").text: li.find_element(By.TAG_NAME, "b").text
            for li in browser.find_elements(By.CSS_SELECTOR, "ol.queue li") if li.find_elements(By.TAG_NAME, "b")}
    assert done == dict(zip(queue, ["accept", "reject", "positive"]))
    versions = [v for v in store.all_versions() if v.kind == "label"]
    assert len(versions) == 3  # one new immutable version per decision, each with everything so far
    latest = max(versions, key=lambda v: v.count)
    assert latest.manifest["parents"] == [jv.ref] and latest.manifest["reviewer"] == "alice"
    labels = {r["item_id"]: r for r in latest.iter_records()}
    judged = jv.by_id()
    assert [labels[i]["decision"] for i in queue] == ["accept", "reject", "positive"]
    assert labels[queue[0]]["label"] == judged[queue[0]]["label"]
    assert labels[queue[1]]["label"] == 1 - judged[queue[1]]["label"]
    assert labels[queue[2]]["label"] == 1 and labels[queue[2]]["note"] == "strong <b>fit</b>"

    out = tmp_path / "agree"
    res = CliRunner().invoke(cli, ["judge", "agree", "--judgments", jv.ref, "--labels", latest.ref, "--out", str(out),
                                   "--home", str(studio_home)])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "agreement.json").read_text())["agreement"]
    assert m["n"] == 3
    assert m["tp"] + m["tn"] == 1 + judged[queue[2]]["label"]  # accept agrees, reject disagrees, positive iff judge 1
    shutil.rmtree(out)
