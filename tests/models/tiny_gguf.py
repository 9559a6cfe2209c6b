"""A tiny random-weight GGUF model that real llama.cpp can load, written at test time.

Architecture ``llama`` with toy dimensions; a byte-level BPE vocabulary (the 256 GPT-2 byte
symbols, a few merges, and ChatML control tokens), so any text can be spelled; and a ChatML
chat template in ``tokenizer.chat_template``, as Qwen models ship. The weights are random, so
free generation is noise: tests force exact text with a grammar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
CONTROL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MERGES = ("` `", "`` `", "Ċ Ċ", "Ġ Ġ")

N_EMBD = 64
N_HEAD = 4
N_LAYER = 2
N_FF = 128
N_CTX = 4096

TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3


def byte_symbols() -> list[str]:
    """GPT-2's printable stand-in for each of the 256 byte values, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def vocabulary() -> tuple[list[str], list[int]]:
    """Tokens and their types: bytes, merged symbols, then the ChatML control tokens."""
    tokens = byte_symbols()
    tokens += ["".join(pair.split(" ")) for pair in MERGES]
    types = [TOKEN_TYPE_NORMAL] * len(tokens)
    tokens += CONTROL_TOKENS
    types += [TOKEN_TYPE_CONTROL] * len(CONTROL_TOKENS)
    return tokens, types


def write_tiny_gguf(path: Path, seed: int = 0) -> Path:
    """Write the model to ``path`` (a few hundred KB) and return the path."""
    import gguf

    tokens, types = vocabulary()
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("verimath-tiny-random")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(list(MERGES))
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_pad_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    for name, shape in _tensor_shapes(len(tokens)):
        data = np.ones(shape) if name.endswith("norm.weight") else rng.normal(0, 0.02, shape)
        writer.add_tensor(name, data.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _tensor_shapes(n_vocab: int) -> list[tuple[str, tuple[int, ...]]]:
    """numpy shapes (ggml's dimensions reversed) of every tensor llama.cpp's llama needs."""
    shapes = [("token_embd.weight", (n_vocab, N_EMBD))]
    for i in range(N_LAYER):
        shapes += [
            (f"blk.{i}.attn_norm.weight", (N_EMBD,)),
            (f"blk.{i}.attn_q.weight", (N_EMBD, N_EMBD)),
            (f"blk.{i}.attn_k.weight", (N_EMBD, N_EMBD)),
            (f"blk.{i}.attn_v.weight", (N_EMBD, N_EMBD)),
            (f"blk.{i}.attn_output.weight", (N_EMBD, N_EMBD)),
            (f"blk.{i}.ffn_norm.weight", (N_EMBD,)),
            (f"blk.{i}.ffn_gate.weight", (N_FF, N_EMBD)),
            (f"blk.{i}.ffn_up.weight", (N_FF, N_EMBD)),
            (f"blk.{i}.ffn_down.weight", (N_EMBD, N_FF)),
        ]
    shapes += [("output_norm.weight", (N_EMBD,)), ("output.weight", (n_vocab, N_EMBD))]
    return shapes
