"""The judge as the JD–CV generators' verifier (`mira synth jdcv --verify-with-judge`): every generated negative is
judged against its JD, and one the judge rates positive, or cannot score, is dropped.

It needs both the stages and the judge, so it lives above them; `synth.stages.jdcv_pipeline` takes it as a plain
callable (`Verifier`).
"""

from __future__ import annotations

from judge.rubric import load_rubric
from judge.run import estimate_judging, judge_pairs
from synth.errors import BudgetStop
from synth.runner import Runner


class JudgeVerifier:
    """(generated triplets, JD records, anchors) -> {triplet id: reason}; requirements come from code (anchors, JD
    fields, or the extract stage)."""

    name = "judge"

    def __init__(self, runner: Runner):
        self.runner = runner

    def estimate(self, jds: list[dict], negatives_per_jd: int, anchors: dict) -> dict:
        """The dry run's bound: one judge call per negative, each CV as long as a generator may write."""
        longest = {"id": "cv-standin", "text": "x" * 4 * self.runner.lm_config.max_tokens}  # ~max_tokens tokens
        return estimate_judging(self.runner, load_rubric(), [(jd, longest) for jd in jds
                                                             for _ in range(negatives_per_jd)],
                                redact_pii=not self.runner.lm_config.is_local, anchors=anchors, split=True)

    def __call__(self, generated: list[dict], jd_records: list[dict], anchors: dict) -> dict[str, str]:
        rub = load_rubric()
        jds = {t["jd_id"]: {"id": t["jd_id"], "text": t["jd"]} for t in generated}
        jds.update({jd["id"]: jd for jd in jd_records if jd["id"] in jds})  # with their must / preferred fields
        pairs = [(jds[t["jd_id"]], {"id": t["id"], "text": t["negative"]}) for t in generated]
        jr = judge_pairs(self.runner, rub, pairs, redact_pii=False, anchors=anchors, label="jdcv-verify",
                         key_of=lambda jd, cv: f"verify:{cv['id']}")
        if not jr.complete:
            raise BudgetStop("Stopped at the budget during jdcv-verify. Re-run the same command with a larger "
                             "--max-cost to continue; nothing is paid twice.")
        label = {r["cv_id"]: r["label"] for r in jr.records}
        failed = {r["cv_id"]: r["reason"] for r in jr.rejects}
        drop = {}
        for t in generated:
            if t["id"] in failed:
                drop[t["id"]] = f"judge could not verify the negative: {failed[t['id']]}"
            elif label.get(t["id"]) == 1:
                drop[t["id"]] = "negative rated positive by the judge (>= threshold)"
        return drop
