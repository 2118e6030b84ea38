"""The one place that keeps hub libraries off the network.

Must run before `huggingface_hub`, `transformers` or `sentence_transformers` are imported:
they read these variables at import time. `setdefault` lets a user who really has a hub
opt back in from the environment.
"""

from __future__ import annotations

import os

OFFLINE_SWITCHES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # litellm fetches a model cost map at import unless told to use its bundled copy.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def go_offline() -> None:
    for name, value in OFFLINE_SWITCHES.items():
        os.environ.setdefault(name, value)


go_offline()
