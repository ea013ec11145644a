"""Tiny Qwen3-VL checkpoints built here (no hub download), for serving with a real third-party server.

Two kinds, both real ``Qwen3VLForConditionalGeneration`` + ``Qwen3VLProcessor`` folders that
``transformers serve`` loads by path:

* ``random``: random weights; it answers garbage, which the judge must never turn into a number;
* ``fixed``: weights set so the reply is always ``answer`` whatever the video, the seed or the
  sampling settings. Every layer's output projections are zero, so the hidden state at a position is
  the embedding of that token alone; the embeddings are unit basis vectors and ``lm_head`` maps
  each chain token's direction to the next token of the answer with a logit of 100 (the others 0),
  so sampling at any temperature picks it. The answer's pieces are added tokens of the tokenizer.
  With ``alternate``, a second answer comes when the request's ``chat_template_kwargs`` set
  ``alternate_answer``: the template then ends the prompt with a trigger token whose direction
  starts the second chain (vLLM takes ``chat_template_kwargs`` per request), so one server gives both.

The tokenizer is the project's tiny byte-level BPE (``cosmos_bench.models.tiny``) plus Qwen-VL's
vision tokens and a small Qwen3-VL-style chat template (media parts become vision placeholders,
which the processor expands per image / per video frame, with timestamps for video frames).
"""

from __future__ import annotations

from pathlib import Path

HIDDEN = 32
VISION_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
# vLLM's qwen3 reasoning parser looks these up in the vocabulary (it refuses a tokenizer without them)
THINK_TOKENS = ["<think>", "</think>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if alternate_answer is defined and alternate_answer %}<|alternate|>{% endif %}{% endif %}"
)
ALTERNATE_TRIGGER = "<|alternate|>"


def _tokenizer(answer_pieces: list[str]):
    from tokenizers import AddedToken

    from cosmos_bench.models.tiny import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": [*VISION_TOKENS, ALTERNATE_TRIGGER]})
    # not special: the server decodes with skip_special_tokens, and these are the reply's text
    pieces = [*THINK_TOKENS, *(p for p in answer_pieces if p not in THINK_TOKENS)]
    tok.add_tokens([AddedToken(p, normalized=False, lstrip=False, rstrip=False) for p in pieces])
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _config(vocab_size: int, tok, head_dim: int = 16):
    from transformers import Qwen3VLConfig

    ids = {t: tok.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    return Qwen3VLConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": head_dim,
            "max_position_embeddings": 32768,  # room for vLLM at README's --max-model-len 16384
            "bos_token_id": tok.pad_token_id,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0,
                                "mrope_section": [head_dim // 4, head_dim // 8, head_dim // 8], "mrope_interleaved": True},
        },
        vision_config={
            "depth": 1,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "patch_size": 16,
            "out_hidden_size": HIDDEN,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [0],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def _processor(tok):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    # few pixels per image / frame: a 64x48 frame is 4 vision tokens
    image = Qwen2VLImageProcessor(patch_size=16, merge_size=2, temporal_patch_size=2,
                                  size={"shortest_edge": 32 * 32, "longest_edge": 32 * 32 * 8})
    video = Qwen3VLVideoProcessor(patch_size=16, merge_size=2, temporal_patch_size=2,
                                  size={"shortest_edge": 32 * 32, "longest_edge": 32 * 32 * 64},
                                  min_frames=2, max_frames=16, cap_pixels_per_frame=True)
    return Qwen3VLProcessor(image_processor=image, tokenizer=tok, video_processor=video, chat_template=CHAT_TEMPLATE)


def build_tiny_qwen3_vl(path: str | Path, *, answer: list[str] | None = None, alternate: list[str] | None = None,
                        seed: int = 0, head_dim: int = 16) -> Path:
    """Write a tiny checkpoint folder; ``answer`` (pieces of the reply) makes it a ``fixed`` one, and
    ``alternate`` the reply to requests with ``chat_template_kwargs: {alternate_answer: true}``.
    ``head_dim`` ≥ 32 for vLLM's CPU attention."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    path = Path(path)
    pieces = list(answer or [])
    second = list(alternate or [])
    tok = _tokenizer(pieces + [p for p in second if p not in pieces])
    vocab = len(tok)
    config = _config(vocab, tok, head_dim)
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config).eval()
    if pieces:
        _fix_answer(model, tok, pieces, second)
    model.save_pretrained(path)
    _processor(tok).save_pretrained(path)
    return path


@__import__("torch").no_grad()
def _fix_answer(model, tok, pieces: list[str], alternate: list[str]) -> None:
    """Make the reply ``pieces`` then end-of-turn, whatever came before (see the module docstring);
    after the trigger token, ``alternate`` instead (its pieces must not be pieces of the first)."""
    lm = model.model.language_model
    for layer in lm.layers:
        layer.self_attn.o_proj.weight.zero_()
        layer.mlp.down_proj.weight.zero_()
    chain = [tok.convert_tokens_to_ids(p) for p in pieces]
    embed = lm.embed_tokens.weight
    embed.zero_()
    embed[:, 0] = 1.0  # every token but the chain's: direction 0, "start the answer"
    for k, token_id in enumerate(chain, start=1):
        embed[token_id] = 0.0
        embed[token_id, k] = 1.0
    lm.norm.weight.fill_(1.0)
    head = model.lm_head.weight
    head.zero_()
    targets = [*chain, tok.eos_token_id]
    # RMSNorm turns a unit basis vector into sqrt(HIDDEN) times it
    for k, token_id in enumerate(targets):
        head[token_id, k] = 100.0 / HIDDEN ** 0.5
    if alternate:
        start = len(chain) + 1  # the trigger's direction, then one per piece of the second chain
        second = [tok.convert_tokens_to_ids(p) for p in alternate]
        if set(second) & set(chain) or start + len(second) >= HIDDEN:
            raise ValueError("the alternate answer must use pieces of its own and fit the hidden size")
        for k, token_id in enumerate([tok.convert_tokens_to_ids(ALTERNATE_TRIGGER), *second]):
            embed[token_id] = 0.0
            embed[token_id, start + k] = 1.0
        for k, token_id in enumerate([*second, tok.eos_token_id]):
            head[token_id, start + k] = 100.0 / HIDDEN ** 0.5
