#!/usr/bin/env bash
# Issue 10's figures in one call on a lent H100/H200 (diffusers is not installed there: its wheels travel along).
# Here, first:   bash bench/gpu_wheels.sh        (the wheels and the benchmark's projects into .whl/)
# There:         bash bench/gpu.sh               (the device tool: carry [".whl"], timeout_s 600)
# Each run's figures go to $OUT/NAME.json and everything printed to $OUT/log; the runs come most needed first, each
# within what is left of BUDGET seconds (default 540), so a slow compile cannot cost the earlier figures.
# BENCH_ARGS: more arguments for every run (e.g. "--arch tiny --candidates 2 --steps 4" to try this script on a
# CPU; the projects in .whl/projects have 10 scenes, so no --scenes).
set -uo pipefail
deadline=$(( $(date +%s) + ${BUDGET:-540} ))  # from the start: the install counts too
out=${OUT:-/tmp/storyreel-gpu}
mkdir -p "$out"
exec > >(tee -a "$out/log") 2>&1
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/storyreel-inductor
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
python3 -c "import torch, diffusers, transformers; print('torch', torch.__version__, '| diffusers', diffusers.__version__,
'| transformers', transformers.__version__)" || exit 1
projects=()
[ -d .whl/projects ] && projects=(--projects .whl/projects)
run() {  # NAME SCRIPT ARGS...: one benchmark run, within the time left
    local name=$1 script=$2 left=$(( deadline - $(date +%s) ))
    shift 2
    if [ "$left" -lt 40 ]; then echo "== $name: skipped, ${left} s left"; return; fi
    echo "== $name ($*), at most $(( left - 15 )) s"
    # interrupted first (the run cleans up after itself), killed 10 s later if it does not stop (a CUDA call)
    timeout --signal=INT --kill-after=10 "$(( left - 15 ))" python3 "bench/$script" --models /tmp/storyreel-models --json "$out/$name.json" "$@" \
        ${BENCH_ARGS:-}
    echo "== $name: exit $?"
}
gen() { local name=$1; shift; run "$name" generate.py "${projects[@]}" "$@"; }
gen sd15 --arch sd15 --phases --deepcache 3 --side-by-side "$out/sd15-deepcache3.png"
gen turbo --arch sd21 --turbo --phases
run load load.py --arch sd15
gen turbo-compiled --arch sd21 --turbo --compile
gen sd15-compiled --arch sd15 --compile
