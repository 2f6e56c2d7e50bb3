"""``vocode``/``bwe --stream``: files read, processed and written block by block equal the whole-file
result, under the same peak policy, and a failing file leaves nothing behind (issue 14 row 10,
issue 17 item 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import audiokit.cli._common as common
from audiokit.assets import speech_files, speech_path
from audiokit.batch import MANIFEST_NAME
from audiokit.cli import main
from audiokit.cli._common import STREAM_AUTO_SECONDS, streams
from audiokit.frontend import MelSpectrogram, sinc_resample
from audiokit.frontend.streaming import StreamingMel
from audiokit.io import BlockWriter, iter_blocks, load, write_blocks


def snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-30)))


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    """0.37 s blocks: a 5 s clip crosses a dozen block edges, none on a frame boundary."""
    monkeypatch.setattr(common, "STREAM_BLOCK_SECONDS", 0.37)


def _run(argv: list[str]) -> None:
    assert main([*argv, "--no-progress", "--workers", "1", "--precision", "fp32"]) == 0


def test_auto_streams_only_long_files():
    assert not streams("auto", STREAM_AUTO_SECONDS) and streams("auto", STREAM_AUTO_SECONDS + 1)
    assert streams("on", 0.1) and not streams("off", 1e6)


def test_streaming_mel_equals_the_offline_mel():
    mel = MelSpectrogram(16000, 1024, 80, 320, n_mels=80, f_max=8000.0)
    wav, _ = load(speech_path("slt_16k.wav"), sr=16000, mono=True)
    s, out, i = StreamingMel(mel), [], 0
    for n in (1, 90, 333, 4001, 10**9):
        out.append(s.push(wav[:, i : i + n]))
        i += n
    got = torch.cat([*out, s.flush()], dim=-1)
    ref = mel(wav)
    assert got.shape == ref.shape
    assert float((got - ref).abs().max()) < 1e-4  # log-mel, floor 1e-5: float rounding only


def test_vocode_stream_equals_whole_file(tmp_path):
    """Without phase refinement the stream is exact; with the default model's refinement (32
    Griffin-Lim iterations, which amplify the streaming mel's float rounding) it agrees to >= 40 dB."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.wav").write_bytes(speech_path("slt_16k.wav").read_bytes())
    for refine, bar in (("0", 70), (None, 40)):
        extra = ["--phase-refine", refine] if refine else []
        _run(["vocode", str(src), str(tmp_path / f"on{refine}"), "--stream", "on", *extra])
        _run(["vocode", str(src), str(tmp_path / f"off{refine}"), "--stream", "off", *extra])
        on, sr = sf.read(tmp_path / f"on{refine}" / "a.wav")
        off, _ = sf.read(tmp_path / f"off{refine}" / "a.wav")
        assert sr == 16000 and on.shape == off.shape
        assert snr_db(off, on) > bar, refine  # PCM_16 of the same float signal
        record = json.loads((tmp_path / f"on{refine}" / MANIFEST_NAME).read_text().splitlines()[-1])
        assert record["streamed"] is True and record["status"] == "ok"
    assert snr_db(on, sf.read(tmp_path / "on0" / "a.wav")[0]) < 30  # the default refines


def test_vocode_stream_resamples_with_the_sinc_resampler(tmp_path):
    from audiokit.vocoders import APNet

    wav, _ = load(speech_path("slt_16k.wav"), mono=True)
    x22 = sinc_resample(wav, 16000, 22050)
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", x22[0].numpy(), 22050, subtype="FLOAT")
    _run(["vocode", str(src), str(tmp_path / "out"), "--stream", "on", "--phase-refine", "0"])
    got, sr = sf.read(tmp_path / "out" / "a.wav")
    from audiokit.cli.vocode import DEFAULT_MODEL

    model = APNet.from_pretrained(DEFAULT_MODEL)
    mel = model.mel(sinc_resample(x22, 22050, 16000))
    ref = model.synthesize(mel, dtype=torch.float32, phase_refine_iters=0)[0].numpy()
    assert sr == 16000 and got.shape == ref.shape
    assert snr_db(ref, got) > 70


def test_bwe_stream_equals_whole_file_with_channels_and_the_peak_limit(tmp_path):
    wav, sr = load(speech_files(16000)[0])
    x8 = sinc_resample(wav, sr, 8000)[0].numpy()
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "mono.wav", x8, 8000, subtype="PCM_16")
    loud = np.stack([x8, -x8[::-1]], axis=1) / np.abs(x8).max() * 0.9999  # full scale: the output peaks over
    sf.write(src / "stereo.wav", loud, 8000, subtype="FLOAT")
    _run(["bwe", str(src), str(tmp_path / "on"), "--stream", "on"])
    _run(["bwe", str(src), str(tmp_path / "off"), "--stream", "off"])
    recs = {}
    for mode in ("on", "off"):
        lines = (tmp_path / mode / MANIFEST_NAME).read_text().splitlines()
        recs[mode] = {json.loads(ln)["key"]: json.loads(ln) for ln in lines}
    for name in ("mono.wav", "stereo.wav"):
        on, _ = sf.read(tmp_path / "on" / name, always_2d=True)
        off, _ = sf.read(tmp_path / "off" / name, always_2d=True)
        assert on.shape == off.shape
        assert snr_db(off, on) > 70, name
        a, b = recs["on"][name], recs["off"][name]
        assert (a["subtype"], a["channels"], a.keys() - {"streamed"}) == (
            b["subtype"],
            b["channels"],
            b.keys(),
        )
        for key in ("peak", "peak_gain_db", "seconds"):
            if key in b:
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-4), key
    assert recs["on"]["stereo.wav"]["peak_gain_db"] < 0  # the limit acted, on the whole file's peak
    assert np.abs(sf.read(tmp_path / "on" / "stereo.wav")[0]).max() <= 0.999 + 1e-6


def test_write_blocks_policies_and_atomicity(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 5000)) * 0.6).astype(np.float32)
    blocks = [x[:, i : i + 777] for i in range(0, 5000, 777)]
    rep = write_blocks(tmp_path / "lim.wav", iter(blocks), 8000, 2, "FLOAT", peak="limit")
    got = sf.read(tmp_path / "lim.wav", always_2d=True)[0].T
    top = np.abs(x).max()
    np.testing.assert_allclose(got, x * np.float32(0.999 / top), atol=1e-6)
    assert rep["peak"] == pytest.approx(top, rel=1e-5) and rep["peak_gain_db"] < 0
    rep = write_blocks(tmp_path / "clip.wav", iter(blocks), 8000, 2, "FLOAT", peak="clip")
    np.testing.assert_allclose(sf.read(tmp_path / "clip.wav", always_2d=True)[0].T, np.clip(x, -0.999, 0.999))
    assert rep["clipped_samples"] == int(np.sum(np.abs(x) > 0.999))

    def failing():
        yield blocks[0]
        raise RuntimeError("model failed mid-file")

    with pytest.raises(RuntimeError, match="mid-file"):
        write_blocks(tmp_path / "bad.wav", failing(), 8000, 2, "PCM_16", peak="limit")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav", "lim.wav"]  # no partial, no temp
    with pytest.raises(ValueError, match="empty"), BlockWriter(tmp_path / "empty.wav", 8000, 1):
        pass
    assert not (tmp_path / "empty.wav").exists()


def test_iter_blocks_names_bad_files(tmp_path):
    x = np.zeros(3000, dtype=np.float32)
    x[2500] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    blocks = iter_blocks(tmp_path / "nan.wav", 1000)
    assert next(blocks).shape == (1, 1000)  # the first blocks are fine
    with pytest.raises(ValueError, match=r"nan\.wav: audio contains NaN"):
        list(blocks)
    (tmp_path / "junk.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(ValueError, match="junk.wav"):
        list(iter_blocks(tmp_path / "junk.wav", 1000))


def test_timbre_transfer_stream_equals_whole_file(tmp_path):
    """``synth timbre-transfer --stream on`` (0.37 s blocks, 22.05 kHz stereo mixed down) writes the
    whole-file render: streaming pYIN/loudness, soxr's streaming resampler and block rendering."""
    from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig, DecoderConfig
    from audiokit.io import resample

    torch.manual_seed(0)
    model_dir = tmp_path / "model"
    cfg = DDSPConfig(decoder=DecoderConfig(rnn_channels=16, ch=8, layers_per_stack=1), reverb_length=800)
    model = DDSPAutoencoder(cfg)
    with torch.no_grad():
        model.decoder.dense_out.bias[0] = 3.0  # a loud harmonic part: the 0.999 peak limit acts
    model.save_pretrained(model_dir)
    wav, _ = load(speech_path("slt_16k.wav"), mono=True)
    x22 = resample(wav, 16000, 22050)[0].numpy()[: 22050 * 3]
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", np.stack([x22, 0.5 * x22], axis=1), 22050, subtype="FLOAT")
    common_args = ["--model", str(model_dir), "--mix-down", "--no-progress", "--workers", "1"]
    for mode in ("on", "off"):
        argv = ["synth", "timbre-transfer", str(src), str(tmp_path / mode), "--stream", mode, *common_args]
        assert main(argv) == 0
    on, sr = sf.read(tmp_path / "on" / "a.wav")
    off, _ = sf.read(tmp_path / "off" / "a.wav")
    assert sr == 16000 and on.shape == off.shape == (3 * 16000 // 64 * 64,)
    assert snr_db(off, on) > 70  # PCM_16 of the same float signal
    rec = {m: json.loads((tmp_path / m / MANIFEST_NAME).read_text().splitlines()[-1]) for m in ("on", "off")}
    assert rec["on"]["streamed"] is True and rec["on"]["status"] == "ok"
    assert rec["on"]["peak"] == pytest.approx(rec["off"]["peak"], rel=1e-4) and rec["off"]["peak"] > 0.999
    assert np.abs(on).max() <= 0.999 + 1e-4
