"""The local transformers target on a tiny randomly initialised Qwen2-Audio built here from a
config (no download): the real loading, chat-template, processor and generate path, checked
against a greedy decode written out step by step with the model's forward pass."""

import numpy as np
import pytest
import torch

from audiokit.perturb import make_target
from audiokit.perturb.local import TransformersTarget

TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'audio' %}Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_qwen2_audio(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    # a byte-level tokenizer without merges plus Qwen2-Audio's special tokens
    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]
    )
    ft = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    proc = Qwen2AudioProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=ft, chat_template=TEMPLATE
    )
    cfg = Qwen2AudioConfig(
        audio_config={
            "d_model": 16,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "num_mel_bins": 128,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(ft),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
        },
        audio_token_index=ft.convert_tokens_to_ids("<|AUDIO|>"),
    )
    torch.manual_seed(0)
    model = Qwen2AudioForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ft.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = ft.convert_tokens_to_ids("<|endoftext|>")
    path = tmp_path_factory.mktemp("tiny_qwen2_audio")
    model.save_pretrained(path)
    proc.save_pretrained(path)
    return path


def _check_greedy_by_hand(path, wav16k, tokens):
    """Greedy decoding written out: each generated token is the argmax (to 1e-4, so the check
    holds on any CPU's kernels) of the full forward pass over the prompt and the tokens before it."""
    from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

    proc = AutoProcessor.from_pretrained(path)
    model = Qwen2AudioForConditionalGeneration.from_pretrained(path).eval()
    conv = [{"role": "user", "content": [{"type": "audio", "audio_url": "x.wav"}]}]
    text = proc.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|>")  # audio only, no system
    inp = proc(text=text, audio=[wav16k], sampling_rate=16000, return_tensors="pt")
    ids = inp["input_ids"]
    n_audio = int((ids == model.config.audio_token_index).sum())
    assert n_audio == len(wav16k) // 640  # the placeholder expanded to 25 audio tokens per second
    with torch.inference_mode():
        for tok in tokens:
            logits = model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                input_features=inp["input_features"],
                feature_attention_mask=inp["feature_attention_mask"],
            ).logits[0, -1]
            assert float(logits[tok]) >= float(logits.max()) - 1e-4
            ids = torch.cat([ids, torch.tensor([[tok]])], dim=1)
    return proc.tokenizer.decode(tokens, skip_special_tokens=True), inp["input_ids"].shape[1]


def test_transformers_target_matches_a_hand_written_greedy_decode(tiny_qwen2_audio, speech16k, tmp_path):
    x, sr = speech16k
    x = x[: sr * 2]
    t = make_target(
        {
            "name": "transformers",
            "model": str(tiny_qwen2_audio),
            "max_new_tokens": 6,
            "generate": {"do_sample": False},
            "cache_dir": str(tmp_path),
            "device": "cpu",
        }
    )
    assert isinstance(t, TransformersTarget)
    score = t(x, sr)
    tokens = t.last_tokens
    assert 1 <= len(tokens) <= 6
    expected, n_prompt = _check_greedy_by_hand(tiny_qwen2_audio, x.numpy(), tokens)
    assert t.last_info["reply"] == expected
    assert score == (0.0 if t.last_info["judge"]["refusal"]["refused"] else 1.0)
    u = t.usage()["target"]
    assert (u.requests, u.prompt_tokens, u.completion_tokens) == (1, n_prompt, len(tokens))
    # the same audio again comes from the cache; other audio is generated
    t(x, sr)
    assert t.usage()["target"].requests == 1 and t.usage()["target"].cache_hits == 1
    # 48 kHz input is resampled to the processor's 16 kHz before the features
    import soxr

    up = soxr.resample(x.numpy(), sr, 48000)
    t(up, 48000)
    assert t.usage()["target"].requests == 2
    with pytest.raises(ValueError, match="model_class"):
        TransformersTarget(str(tiny_qwen2_audio), model_class="NoSuchModel").load()
    with pytest.raises(ValueError, match="judge_base_url"):
        TransformersTarget(str(tiny_qwen2_audio), judge="llm")
    assert np.isfinite(score)


def test_sentence_embedder_mean_pools_a_local_bert_without_sentence_transformers(tmp_path, monkeypatch):
    """The transformers path of the similarity judge's embedder (all-MiniLM's mean pooling and
    normalisation), on a tiny random BERT folder; sentence-transformers is hidden."""
    import sys

    from transformers import BertConfig, BertModel, BertTokenizerFast

    from audiokit.perturb.embeddings import SentenceEmbedder
    from audiokit.perturb.judges import RefusalSimilarityJudge

    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "i",
        "can't",
        "help",
        "sure",
        "here",
        "is",
        "how",
        "'",
        "t",
    ]
    words += ["can", "sorry"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    BertModel(cfg).save_pretrained(tmp_path)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails -> transformers path
    e = SentenceEmbedder(str(tmp_path))
    texts = ["sorry i can't help", "sure here is how", "sorry"]
    got = e.encode(texts)
    tok = BertTokenizerFast.from_pretrained(tmp_path)
    model = BertModel.from_pretrained(tmp_path).eval()
    for i, t in enumerate(texts):  # one text at a time: no padding, plain mean over tokens
        with torch.inference_mode():
            h = model(**tok(t, return_tensors="pt")).last_hidden_state[0].double().numpy()
        ref = h.mean(0) / np.linalg.norm(h.mean(0))
        assert np.allclose(got[i], ref, atol=1e-5)  # padded batch == unpadded single
    j = RefusalSimilarityJudge(embedder=e, references=["sorry i can't help"])
    assert j("sorry i can't help").details["similarity"] == pytest.approx(1.0)
    assert j.describe()["embedder"] == str(tmp_path)
