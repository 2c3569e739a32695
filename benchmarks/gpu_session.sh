#!/usr/bin/env bash
# One lent GPU's session of train_gpu.py runs, logs under $OUT (see the device notes in RESULTS.md).
# The GPU image lacks diffusers: its wheels travel in .whl/ (git-ignored), fetched here with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .whl diffusers==0.42.1 importlib_metadata
# The plain step without checkpointing needs ~5.8 GiB of saved activations per block at 32,760 tokens (measured
# on one block on a CPU), 170 GiB for 30; it ran out at 139 GiB on an H200. So the pair is timed checkpointed,
# and ours alone also without.
set -u
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True TORCH_LOGS=recompiles
export PYTHONPATH=$PWD/src
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.used,memory.total --format=csv \
    | tee "$OUT/gpu.txt"
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', \
torch.backends.cudnn.version(), 'diffusers', diffusers.__version__)" | tee -a "$OUT/gpu.txt"
cd benchmarks || exit 1
STEPS=${STEPS:-8}
run() {  # name, seconds, train_gpu.py options
    local name=$1 limit=$2
    shift 2
    echo "== $name: train_gpu.py $*" | tee -a "$OUT/summary.txt"
    timeout "$limit" python3 train_gpu.py --steps "$STEPS" ${SMOKE:+--smoke} "$@" >"$OUT/$name.log" 2>&1
    echo "exit $?" >>"$OUT/$name.log"
    grep -E '^\||^Row|exit' "$OUT/$name.log" | tee -a "$OUT/summary.txt"
}
python3 -c "import torch; q = torch.randn(1, 12, 32760, 128, device='cuda', dtype=torch.bfloat16, requires_grad=True); \
print('torch default SDPA kernel at 32k tokens:', torch.nn.attention.SDPBackend(torch._fused_sdp_choice(q, q, q)))" \
    | tee -a "$OUT/summary.txt"
case ${SESSION:-pairs} in
pairs)  # the plain step and ours, both checkpointed; ours alone without checkpointing, with a kernel table
    run ckpt 200 --checkpointing
    run nockpt_profile 170 --rows ours --profile ;;
kernels)  # the same with cuDNN's attention pinned through diffusers (the kernel table in RESULTS.md came from here)
    run ckpt_cudnn 200 --checkpointing --attention _native_cudnn
    run nockpt_cudnn 170 --rows ours --attention _native_cudnn --profile ;;
ckpt_ours)  # ours alone, checkpointed (a short lease's check after a change to checkpointing)
    run ckpt_ours 150 --checkpointing --rows ours ;;
esac
cp RESULTS.md "$OUT/"
