"""The LLM rubric judge: Career, Skills, Education, Innovation; every score, cap and label computed in code."""
