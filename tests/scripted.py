"""One cooperative scripted LLM for every prompt Mira sends: the judge, the JD–CV generators, the five JD stages (the
stage-1 answer also lists the JD's own requirements, which the judge's requirement extraction needs)."""

from tests import scripted_jdcv, scripted_judge, scripted_llm


def answer(messages):
    system = messages[0]["content"]
    if "careful technical recruiter" in system:
        return scripted_judge.answer(messages)
    if "CVs for one real job description" in system or "deceptive hard-negative" in system:
        return scripted_jdcv.answer(messages)
    if "conservative structured anchor" in system:
        return scripted_judge.extract_answer(messages)
    return scripted_llm.answer(messages)
