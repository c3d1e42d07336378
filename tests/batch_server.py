"""A local OpenAI-compatible batch server for tests: tests/llm_server.py's chat server plus `/v1/files` and
`/v1/batches`, real HTTP on 127.0.0.1.

Each batch line is answered as the chat server answers the same body (its rules, the scripted LLM, guided decoding
under a `response_format`), so a batched run can be compared with an online one. A batch moves one status per poll:
validating -> in_progress -> finalizing -> completed (it stays in_progress while `hold` is set); its lines are answered
when it leaves in_progress. Faults: a rule with `fault="expired"` puts that line in the error file with code
`batch_expired` (as a batch that ran out of its window reports it), `fault="500"` with an HTTP 500 response;
`submit_429 = n` answers the next n batch creations with 429 (Retry-After: 0).

Anthropic's Message Batches are served too (`/v1/messages/batches`, `.../{id}`, `.../{id}/results`): a batch is
in_progress until polled with `hold` unset, then ended; an "expired" rule gives that request `{"type": "expired"}`.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from tests.llm_server import LLMServer, guided_answer


class BatchServer(LLMServer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.hold = False
        self.submit_429 = 0

    def reset(self) -> None:
        super().reset()
        self.files.clear()
        self.batches.clear()
        self.hold, self.submit_429 = False, 0

    def batch_lines(self, batch_id: str) -> list[dict]:
        b = self.batches[batch_id]
        return [json.loads(x) for x in self.files[b["input_file_id"]].decode().splitlines() if x.strip()]

    # -- HTTP -----------------------------------------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("purpose") != "batch" or "file" not in form:
            return web.json_response({"error": {"message": "purpose=batch and a file are required"}}, status=400)
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = form["file"].file.read()
        return web.json_response({"id": fid, "object": "file", "purpose": "batch", "bytes": len(self.files[fid])})

    async def _create(self, request: web.Request) -> web.Response:
        if self.submit_429 > 0:
            self.submit_429 -= 1
            self.state.counts["submit_429"] += 1
            return web.json_response({"error": {"message": "too many batches"}}, status=429,
                                     headers={"Retry-After": "0"})
        body = await request.json()
        if body.get("input_file_id") not in self.files or body.get("endpoint") != "/v1/chat/completions":
            return web.json_response({"error": {"message": "bad input_file_id or endpoint"}}, status=400)
        bid = f"batch_{len(self.batches) + 1}"
        n = len([x for x in self.files[body["input_file_id"]].splitlines() if x.strip()])
        self.batches[bid] = {"id": bid, "object": "batch", "endpoint": body["endpoint"], "status": "validating",
                             "input_file_id": body["input_file_id"], "completion_window": "24h",
                             "created_at": int(time.time()), "output_file_id": None, "error_file_id": None,
                             "request_counts": {"total": n, "completed": 0, "failed": 0},
                             "metadata": body.get("metadata")}
        return web.json_response(self.batches[bid])

    async def _list(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", 20))
        data = sorted(self.batches.values(), key=lambda b: -int(b["id"].split("_")[1]))[:limit]
        return web.json_response({"object": "list", "data": [b for b in data if b.get("object") == "batch"]})

    async def _retrieve(self, request: web.Request) -> web.Response:
        b = self.batches.get(request.match_info["bid"])
        if b is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        nxt = {"validating": "in_progress", "in_progress": "finalizing", "finalizing": "completed"}
        if b["status"] == "in_progress" and not self.hold:
            self._process(b)
        if b["status"] in nxt and not (b["status"] == "in_progress" and self.hold):
            b["status"] = nxt[b["status"]]
        return web.json_response(b)

    async def _content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["fid"])
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    def _process(self, b: dict) -> None:
        out, err = [], []
        for i, line in enumerate(self.batch_lines(b["id"])):
            body = line["body"]
            messages = body.get("messages") or []
            prompt = "\n".join(str(m.get("content", "")) for m in messages)
            self.state.counts["batch_lines"] += 1
            rule = self._rule_for(prompt)
            rid = f"{b['id']}-req-{i}"
            if rule is not None and rule.fault == "expired":
                err.append({"id": rid, "custom_id": line["custom_id"], "response": None,
                            "error": {"code": "batch_expired", "message": "This request could not be executed "
                                      "before the completion window expired."}})
                continue
            if rule is not None and rule.fault == "500":
                err.append({"id": rid, "custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": 500, "body": {"error": {"message": "injected"}}}})
                continue
            text = self._answer(rule, messages)
            rf = body.get("response_format") or {}
            if rf.get("type") == "json_schema":
                text = guided_answer(text, rf["json_schema"]["schema"])
            usage = {"prompt_tokens": max(1, len(prompt) // 4), "completion_tokens": max(1, len(text) // 4)}
            out.append({"id": rid, "custom_id": line["custom_id"], "error": None, "response": {
                "status_code": 200, "request_id": rid, "body": {
                    "id": f"cmpl-{rid}", "object": "chat.completion", "model": body.get("model"), "usage": usage,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}]}}})
        for key, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                fid = f"file-{len(self.files) + 1}"
                self.files[fid] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                b[key] = fid
        b["request_counts"].update(completed=len(out), failed=len(err))

    async def _a_create(self, request: web.Request) -> web.Response:
        body = await request.json()
        bid = f"msgbatch_{len(self.batches) + 1}"
        reqs = body.get("requests") or []
        self.batches[bid] = {"id": bid, "type": "message_batch", "processing_status": "in_progress",
                             "requests": reqs, "results_url": None, "request_counts": {
                                 "processing": len(reqs), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}}
        return web.json_response({k: v for k, v in self.batches[bid].items() if k != "requests"})

    async def _a_retrieve(self, request: web.Request) -> web.Response:
        b = self.batches.get(request.match_info["bid"])
        if b is None:
            return web.json_response({"error": {"type": "not_found_error"}}, status=404)
        if b["processing_status"] == "in_progress" and not self.hold:
            results, rc = [], b["request_counts"]
            for r in b["requests"]:
                p = r["params"]
                messages = ([{"role": "system", "content": p["system"]}] if p.get("system") else []) + p["messages"]
                rule = self._rule_for("\n".join(str(m["content"]) for m in messages))
                rc["processing"] -= 1
                if rule is not None and rule.fault == "expired":
                    rc["expired"] += 1
                    results.append({"custom_id": r["custom_id"], "result": {"type": "expired"}})
                    continue
                text = self._answer(rule, messages)
                rc["succeeded"] += 1
                results.append({"custom_id": r["custom_id"], "result": {"type": "succeeded", "message": {
                    "type": "message", "role": "assistant", "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn", "usage": {"input_tokens": 10, "output_tokens": len(text) // 4}}}})
            fid = f"file-{len(self.files) + 1}"
            self.files[fid] = "".join(json.dumps(x) + "\n" for x in results).encode()
            b.update(processing_status="ended", results_url=f"{self.url}/messages/batches/{b['id']}/results",
                     results_file=fid)
        return web.json_response({k: v for k, v in b.items() if k not in ("requests", "results_file")})

    async def _a_results(self, request: web.Request) -> web.Response:
        b = self.batches[request.match_info["bid"]]
        return web.Response(body=self.files[b["results_file"]], content_type="application/binary")

    def _app(self) -> web.Application:
        app = super()._app()
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{fid}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{bid}", self._retrieve)
        app.router.add_post("/v1/messages/batches", self._a_create)
        app.router.add_get("/v1/messages/batches/{bid}", self._a_retrieve)
        app.router.add_get("/v1/messages/batches/{bid}/results", self._a_results)
        return app
