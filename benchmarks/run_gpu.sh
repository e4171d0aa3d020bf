#!/usr/bin/env bash
# The CUDA checks, in one go, on a machine with a GPU (run from the repository root):
#   1. the `gpu` tests (all three estimators on CUDA, CPU-vs-CUDA agreement, save/load,
#      the fused training loops against the step-by-step ones);
#   2. data-parallel training under torchrun with NCCL (one process per GPU);
#   3. benchmarks/gpu.py --device cuda (training, forecasting, density, dynamics, memory);
#   4. benchmarks/compile.py --device cuda (torch.compile against eager), if time is left;
#   5. benchmarks/fused.py --device cuda (the fused training loops against step by step).
# Usage: bash benchmarks/run_gpu.sh [OUTDIR]   (default benchmarks/results; about 8 minutes)
# Works from a source tree (no install): it puts the checkout on PYTHONPATH.
set -u
out=${1:-benchmarks/results}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    "$py" -c "import torch, torchdiffeq, sklearn; print('torch', torch.__version__, \
'torchdiffeq', torchdiffeq.__version__, 'sklearn', sklearn.__version__, \
'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
} 2>&1 | tee "$out/gpu_env.txt"

# -W default: a warning from another torch version must not fail a check that works.
timeout 150 "$py" -m pytest -q -p no:cacheprovider -m gpu -W default \
    tests/estimators/test_gpu.py tests/nn/test_fused_odernn.py 2>&1 | tee "$out/gpu_tests.log"

ddp=$(mktemp -d)
{
    "$py" -c "from latentode.datasets import make_periodic; \
make_periodic(n_series=256, n_points=50, random_state=0).to_csv('$ddp/d.csv', index=False)"
    n=$("$py" -c "import torch; print(torch.cuda.device_count())")
    timeout 90 "$py" -m latentode.cli fit --quiet --data "$ddp/d.csv" --model "$ddp/m" \
        --params '{"max_epochs": 3, "device": "cuda", "batch_size": 64}' --nproc "$n"
    echo "ddp rc=$? on $n GPU process(es)"
} 2>&1 | tee "$out/gpu_ddp.log"

timeout 270 "$py" benchmarks/gpu.py --device cuda --batch-sizes 256 1024 4096 \
    --seconds 180 --out "$out/gpu_cuda.json" 2>&1 | tee "$out/gpu_bench.log"

timeout 150 "$py" benchmarks/compile.py --device cuda --epochs 6 --repeats 10 \
    --out "$out/compile_cuda.json" 2>&1 | tee "$out/gpu_compile.log"

timeout 150 "$py" benchmarks/fused.py --device cuda --epochs 6 --repeats 10 --rounds 2 \
    --out "$out/fused_cuda.json" 2>&1 | tee "$out/gpu_fused.log"
