"""Chat models behind one protocol, chosen by a spec string.

    model = resolve_model("openai:gpt-4o")          # or "local", "local:/m.gguf", "replay:f.jsonl"
    [completion] = await model.generate(messages, GenerateConfig(stop=FENCED_STOP))

Backends: OpenAI-compatible HTTP (:mod:`.openai_compat`), llama.cpp in process
(:mod:`.local`, extra ``local``), replay of recorded transcripts (:mod:`.replay`). Each says
which tool styles it supports (``"function"``, ``"fenced"``, see :mod:`.tools`).
"""

from verimath.models.base import ChatModel
from verimath.models.hub import HubFile, cache_dir, download
from verimath.models.local import DEFAULT_LOCAL_MODEL
from verimath.models.messages import (
    Completion,
    GenerateConfig,
    Message,
    Role,
    ToolCall,
    Usage,
    to_wire,
)
from verimath.models.pricing import Price
from verimath.models.registry import (
    ModelSpec,
    backends,
    register_backend,
    resolve_model,
    served_model,
)
from verimath.models.retry import RetryPolicy
from verimath.models.tools import (
    FENCED,
    FENCED_STOP,
    FUNCTION,
    OUTPUT_FENCE,
    PYTHON_TOOL,
    TOOL_STYLES,
    Segment,
    fence_code,
    fence_output,
    tool_call_code,
)
from verimath.models.transcripts import Block, RecordedProblem, RecordedSample, load_transcripts

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "FENCED",
    "FENCED_STOP",
    "FUNCTION",
    "OUTPUT_FENCE",
    "PYTHON_TOOL",
    "TOOL_STYLES",
    "Block",
    "ChatModel",
    "Completion",
    "GenerateConfig",
    "HubFile",
    "Message",
    "ModelSpec",
    "Price",
    "RecordedProblem",
    "RecordedSample",
    "RetryPolicy",
    "Role",
    "Segment",
    "ToolCall",
    "Usage",
    "backends",
    "cache_dir",
    "download",
    "fence_code",
    "fence_output",
    "load_transcripts",
    "register_backend",
    "resolve_model",
    "served_model",
    "to_wire",
    "tool_call_code",
]
