"""How the embedded model decodes: its file and settings. Part of every local answer's cache key (`LMConfig.public`),
so a new setting gives new answers; kept apart from `local.py` so the configuration reads it without loading the
model code."""

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_PROMPT_TOKENS = 1536
REPETITION_PENALTY = 1.3
MAX_ANSWER_TOKENS = 768  # a stage-1 anchor with its evidence quotes ran past 512 on a restaurant-manager posting
DECODING = {"gguf": GGUF_FILE, "repetition_penalty": REPETITION_PENALTY, "penalty_over": "answer", "greedy": True,
            "grammar": "llguidance", "json": "compact", "forced_tokens": "one pass"}
