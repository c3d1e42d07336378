"""`mira studio`: a Starlette app over one Mira home, server-rendered with Jinja2 (autoescape on: every text field,
CVs included, is escaped). Read-only except labels, which go through synth.labels as new dataset versions.

Routes: / (datasets), /d/NAME@VERSION (one version), /d/NAME@VERSION/records (paged, filtered), /r/NAME@VERSION/ID
(a record: pair, judgment or fields), /d/NAME@VERSION/rejects/N, /review/NAME@VERSION, /labels/compare, /eval.
"""

from __future__ import annotations

import hmac
import json
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from judge.agree import cohen_kappa
from synth.errors import MiraError
from synth.labels import DECISIONS, LabelSession, latest_labels
from synth.runner.calls import reason_key
from synth.store import DatasetStore, Version

from . import context
from .pager import FLAGS, Filter, Pager
from .runs import find_runs, run_tables

HERE = Path(__file__).parent
PAGE_SIZE = 50
CSRF_HEADER = "x-mira-studio"


class Studio:
    """One server's state: the store, the reviewer, the pager caches, the optional access token."""

    def __init__(self, home: str | Path | None, reviewer: str, token: str | None = None,
                 runs: list[Path] | None = None):
        self.store = DatasetStore(home)
        self.reviewer, self.token = reviewer, token
        self.runs_dirs = [self.store.home, *(runs or [])]
        self.pager = Pager()
        self._queues: OrderedDict[str, list[dict]] = OrderedDict()
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
        self.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)

    def html(self, name: str, status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(reviewer=self.reviewer, status=status, **ctx),
                            status_code=status)

    def queue(self, v: Version) -> list[dict]:
        """The review items of a version (versions are immutable, so the list is kept; the 8 latest)."""
        if v.ref not in self._queues:
            self._queues[v.ref] = context.queue_items(self.store, v)
            while len(self._queues) > 8:
                self._queues.popitem(last=False)
        return self._queues[v.ref]

    def version(self, ref: str) -> Version:
        name, _, ver = ref.partition("@")
        try:
            return self.store.get(name, ver) if ver else self.store.resolve(name)
        except MiraError as e:
            raise HTTPException(404, str(e)) from None


def create_app(home: str | Path | None = None, reviewer: str = "reviewer", token: str | None = None,
               runs: list[Path] | None = None) -> Starlette:
    s = Studio(home, reviewer, token, runs)

    async def datasets(request: Request):
        return s.html("datasets.html", versions=s.store.all_versions())

    async def dataset(request: Request):
        v = s.version(request.path_params["ref"])
        parents = []
        for p in v.manifest.get("parents") or []:
            name, _, ver = p.partition("@")
            parents.append((p, (s.store.root / name / ver / "manifest.json").exists()))
        children = [c for c in s.store.all_versions() if v.ref in (c.manifest.get("parents") or [])]
        return s.html("dataset.html", v=v, parents=parents, children=children, stages=v.manifest.get("stages") or {},
                      rejects=context.reject_groups(v), manifest=v.manifest)

    async def records(request: Request):
        v = s.version(request.path_params["ref"])
        q = request.query_params
        f = Filter(type=q.get("type", ""), stage=q.get("stage", ""), label=q.get("label", ""),
                   flag=q.get("flag", ""), q=q.get("q", ""))
        page = max(1, _int(q.get("page"), 1))
        rows, total = s.pager.page(v.records_path, v.count, page, PAGE_SIZE, f)
        return s.html("records.html", v=v, f=f, groups=context.reject_groups(v), rows=[(r, context.snippet(r)) for r in rows], total=total,
                      page=page, pages=max(1, -(-total // PAGE_SIZE)), flags=FLAGS, qs=_qs(q))

    async def rejects(request: Request):
        v = s.version(request.path_params["ref"])
        reason = request.query_params.get("reason", "")
        rows = [(i, r) for i, r in enumerate(v.iter_rejects())
                if not reason or reason_key(str(r.get("reason", ""))) == reason]
        return s.html("rejects.html", v=v, rows=rows, reason=reason, groups=context.reject_groups(v))

    async def reject(request: Request):
        v = s.version(request.path_params["ref"])
        n = _int(request.path_params["n"], -1)
        rec = next((r for i, r in enumerate(v.iter_rejects()) if i == n), None)
        if rec is None:
            raise HTTPException(404, f"{v.ref} has no reject number {n}.")
        source = None
        jd_like = context.parent_of_kind(s.store, v, ("jd",))
        if rec.get("source_id"):
            source = context.lookup(s.pager, jd_like, rec["source_id"])
        return s.html("reject.html", v=v, n=n, rec=rec, source=source)

    async def record(request: Request):
        v = s.version(request.path_params["ref"])
        rid = request.path_params["rid"]
        rec = s.pager.find(v.records_path, rid)
        if rec is None:
            raise HTTPException(404, f"{v.ref} has no record {rid}.")
        ctx = {"v": v, "rec": rec, "fields": {k: val for k, val in rec.items()}}
        if v.kind == "jd_pair":
            return s.html("pair.html", **ctx, p=context.pair_context(s.store, s.pager, v, rec))
        if v.kind == "judgment":
            return s.html("judgment.html", **ctx, j=context.judgment_context(s.store, s.pager, v, rec))
        if v.kind == "jdcv_triplet":
            return s.html("triplet.html", **ctx, t=context.triplet_context(rec))
        return s.html("record.html", **ctx)

    async def review(request: Request):
        v = s.version(request.path_params["ref"])
        items = s.queue(v)
        if not items:
            raise HTTPException(404, f"{v.ref} ({v.kind}) has nothing to review.")
        sess = LabelSession(s.store, v, s.reviewer)
        done = sess.decisions()
        i = _int(request.query_params.get("i"), -1)
        if not 0 <= i < len(items):
            i = next((k for k, it in enumerate(items) if it["item_id"] not in done), len(items) - 1)
        item = items[i]
        latest = next(iter(reversed(s.store.versions(sess.name))), None)
        lo = max(0, i - 20)
        return s.html("review.html", v=v, items=items, i=i, item=item, done=done, decisions=DECISIONS, lo=lo,
                      window=items[lo:i + 21],
                      texts=context.item_texts(s.store, s.pager, v, item), label_name=sess.name, latest=latest)

    async def label(request: Request):
        if request.headers.get(CSRF_HEADER) != "1":
            return PlainTextResponse("missing the studio's request header", status_code=403)
        try:
            body = await request.json()
        except ValueError:
            return PlainTextResponse("body: not JSON", status_code=400)
        v = s.version(str(body.get("target", "")))
        decision = body.get("decision")
        if decision not in DECISIONS:
            return PlainTextResponse(f"decision: use one of {', '.join(DECISIONS)}", status_code=400)
        item = next((it for it in s.queue(v) if it["item_id"] == body.get("item_id")), None)
        if item is None:
            return PlainTextResponse(f"{v.ref} has no item {body.get('item_id')!r}", status_code=404)
        out = LabelSession(s.store, v, s.reviewer).add(item, decision, str(body.get("note") or ""))
        return JSONResponse({"version": out.ref, "count": out.count, "decision": decision})

    async def compare(request: Request):
        q = request.query_params
        label_versions = [x for x in s.store.all_versions() if x.kind == "label"]
        result = None
        if q.get("a") and q.get("b"):
            a, b = latest_labels(s.version(q["a"])), latest_labels(s.version(q["b"]))
            both = [(a[i], b[i]) for i in sorted(set(a) & set(b))]
            pairs = [(x["label"], y["label"]) for x, y in both if x["label"] is not None and y["label"] is not None]
            result = {"a": q["a"], "b": q["b"], "common": len(both), "n": len(pairs),
                      "agree": sum(x == y for x, y in pairs), "kappa": cohen_kappa(pairs) if pairs else None,
                      "differ": [(x, y) for x, y in both if x["decision"] != y["decision"]]}
        return s.html("compare.html", label_versions=label_versions, result=result)

    async def runs(request: Request):
        found = find_runs(s.runs_dirs)
        n = request.query_params.get("run")
        run = found[_int(n, 0)] if n is not None and 0 <= _int(n, -1) < len(found) else None
        return s.html("eval.html", runs=found, run=run, n=_int(n, -1), tables=run_tables(run) if run else None)

    async def run_png(request: Request):
        found = find_runs(s.runs_dirs)
        n = _int(request.path_params["n"], -1)
        if not 0 <= n < len(found) or not found[n].get("png"):
            raise HTTPException(404, "no such plot")
        return FileResponse(found[n]["png"], media_type="image/png")

    async def not_found(request: Request, exc: HTTPException):
        return s.html("error.html", exc.status_code, detail=exc.detail) if exc.status_code != 403 else \
            PlainTextResponse(exc.detail, status_code=403)

    routes = [Route("/", datasets), Route("/d/{ref}", dataset), Route("/d/{ref}/records", records),
              Route("/d/{ref}/rejects", rejects), Route("/d/{ref}/rejects/{n}", reject),
              Route("/r/{ref}/{rid}", record), Route("/review/{ref}", review),
              Route("/api/label", label, methods=["POST"]), Route("/labels/compare", compare),
              Route("/eval", runs), Route("/eval/{n}/plot.png", run_png),
              Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    if token:
        app.add_middleware(_TokenGate, token=token)
    app.state.studio = s
    return app


class _TokenGate:
    """With a token (any --host but 127.0.0.1): each request carries it as ?token= (then kept in a cookie)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        req = Request(scope)
        given = req.query_params.get("token") or req.cookies.get("mira_studio_token") or ""
        if not hmac.compare_digest(given, self.token):
            return await PlainTextResponse("token required: open the URL `mira studio` printed",
                                           status_code=403)(scope, receive, send)
        if req.query_params.get("token"):
            async def send_cookie(msg):
                if msg["type"] == "http.response.start":
                    msg.setdefault("headers", []).append(
                        (b"set-cookie", f"mira_studio_token={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()))
                await send(msg)
            return await self.app(scope, receive, send_cookie)
        return await self.app(scope, receive, send)


def _int(x, default: int) -> int:
    try:
        return int(x)
    except (TypeError, ValueError):
        return default


def _qs(q) -> str:
    return urlencode({k: v for k, v in q.items() if k != "page" and v})

