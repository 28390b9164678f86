#!/usr/bin/env bash
# Wheels for bench/gpu.sh on a lent GPU machine (Python 3.12 with torch, transformers, accelerate, safetensors,
# huggingface_hub, typer, rich, httpx, markdown-it-py, pillow and numpy, but no diffusers). Its projects are made
# here (spaCy's wheels are too large to carry). Run here, in the repository's root:
#     bash bench/gpu_wheels.sh            # the wheels into .whl/ and the projects into .whl/projects (git-ignored)
#     bash bench/gpu_wheels.sh 3.11 DIR   # the same for another Python, to try the set here
set -euo pipefail
py=${1:-3.12}
dest=${2:-.whl}
rm -rf "$dest" && mkdir -p "$dest"
pin() { .venv/bin/python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
specs=()
for n in diffusers importlib_metadata zipp linkify-it-py; do specs+=("$n==$(pin "$n")"); done
.venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d "$dest" "${specs[@]}" 2> >(grep -v "is ignored: it is neither" >&2)
# 10 scenes, as the issue's job (bench/generate.py's default)
.venv/bin/python bench/generate.py --prepare "$dest/projects"
du -sh "$dest"
