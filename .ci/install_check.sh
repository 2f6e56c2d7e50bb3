#!/usr/bin/env bash
# CI step: the package works after a non-editable install. Builds the wheel, installs it
# (--no-deps) into a throw-away venv whose dependencies (torch & co.) are those of the CI venv, and
# from outside the checkout lists the models and runs `audiokit vocode` and `audiokit bwe` with the
# bundled models on a bundled clip.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
PY=${PY:-$repo/.venv/bin/python}  # the CI venv (make venv): its torch, numpy, ... are reused
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
had_build=$([ -e "$repo/build" ] && echo 1 || true)
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$tmp/wheel" "$repo"
[ -n "$had_build" ] || rm -rf "$repo/build"  # setuptools' in-tree build folder, if it made it
"$PY" -m venv --without-pip "$tmp/venv"
"$PY" -m pip --python "$tmp/venv/bin/python" install --quiet --no-deps "$tmp"/wheel/audiokit-*.whl
# the dependencies: the CI venv's site-packages as a plain path (its .pth files, among them the
# editable audiokit finder, are not processed, so `import audiokit` finds only the installed wheel)
deps=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
site=$("$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$deps" > "$site/_ci_dependencies.pth"
cd "$tmp"  # nothing of the checkout is importable from here
ak="$tmp/venv/bin/audiokit"
"$tmp/venv/bin/python" - <<'PY'
import audiokit, audiokit.assets as a
assert "site-packages" in audiokit.__file__, audiokit.__file__
assert a.PRETRAINED_DIR.parent == a.ASSETS_DIR.parent, a.PRETRAINED_DIR  # the installed copy
print("installed:", audiokit.__file__, "models in", a.PRETRAINED_DIR)
PY
"$ak" models | tee models.txt
grep -q apnet_tiny models.txt && grep -q ap_bwe_tiny_8k_16k models.txt
grep -q apnet_realspeech_16k models.txt && grep -q ap_bwe_realspeech_8k_16k models.txt  # the defaults
mkdir -p in16 in8
cp "$("$tmp/venv/bin/python" -c 'from audiokit.assets import speech_path; print(speech_path("slt_16k.wav"))')" in16/
"$tmp/venv/bin/python" -c 'import soundfile as sf, soxr; x, sr = sf.read("in16/slt_16k.wav"); sf.write("in8/slt_8k.wav", soxr.resample(x, sr, 8000), 8000)'
"$ak" -q vocode in16 out_vocode --workers 1
"$ak" -q bwe in8 out_bwe --workers 1
"$tmp/venv/bin/python" - <<'PY'
import soundfile as sf
for f, sr in (("out_vocode/slt_16k.wav", 16000), ("out_bwe/slt_8k.wav", 16000)):
    info = sf.info(f)
    assert info.samplerate == sr and info.frames > sr, (f, info)
    print(f, info.samplerate, "Hz", round(info.frames / info.samplerate, 2), "s")
PY
echo "non-editable install check passed in $(( $(date +%s) - start )) s"
