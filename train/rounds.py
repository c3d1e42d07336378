"""The training rounds' public entry points: R1 (JD–JD curriculum, train/r1.py) and R2 (JD–CV MNRL, train/r2.py),
both LoRA on a sentence-transformers backbone on the library's Trainer, merged on save."""

from .r1 import train_r1
from .r2 import train_r2
from .run_record import MANIFEST, TrainResult

__all__ = ["MANIFEST", "TrainResult", "train_r1", "train_r2"]
