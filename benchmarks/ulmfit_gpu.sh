#!/usr/bin/env bash
# ULMFiT on one GPU in one time-boxed run (default nine minutes). On a GPU each recurrent time step is
# a short, latency-bound kernel (about 0.45 ms for the three layers forward and backward on an H200,
# whatever the batch), so the defaults take large batches: 256 streams to pretrain, 64 reviews to
# classify, 4 classifier epochs; the CPU runs' 64 and 32 with 6 epochs need about half an hour:
#   1. the CUDA tests (the fused backend on cuDNN against torch.nn.* and the CPU reference; autocast);
#   2. pretraining the awd-lstm preset unnarrowed (LSTMP 1150 -> 400, 60,000 words, float32/TF32) on
#      the 50,000 unlabelled IMDb reviews: the speed is measured first and the cosine schedule spans the
#      whole epochs that fit in --pretrain-time;
#   3. IMDb: the language model fine-tuned for an epoch on the training reviews' text, the transfer
#      classifier on whole reviews, scored on the fixed 5,000 test reviews of the CPU runs;
#   4. SST-2 the same (SST2=1); 5. bench_layers on CUDA if time is left.
# The bag of words needs no GPU: bench_ulmfit.py's CPU runs score it on the same 5,000 reviews.
#
# Usage: benchmarks/ulmfit_gpu.sh RESULTS_DIR [DATA_DIR] [SECONDS]
#   RESULTS_DIR gets ulmfit.json, the test log, each run's records (runs.tgz: results, the classifiers'
#   fit records written before their test set is scored, training curves) and layers_cuda.json;
#   DATA_DIR holds imdb/ and sst-and-sentence-classification/ (default ../shared/data);
#   SECONDS bounds the whole script (default 540). Checkpoints go to $WORK (default /tmp/ulmfit_gpu);
#   $DEVICE (default cuda), the stages' budgets $PRETRAIN_TIME (170), $FINETUNE_TIME (40),
#   $CLASSIFY_TIME (200), $PRETRAIN_BATCH (256), $CLASSIFY_BATCH (64), $EPOCHS (the IMDb classifier's,
#   4), $SST2 (1: also SST-2, when time is left) and $THREADS (8) may be set (a smoke run on a CPU:
#   DEVICE=cpu, small budgets and batches).
set -u
RESULTS=${1:?usage: benchmarks/ulmfit_gpu.sh RESULTS_DIR [DATA_DIR] [SECONDS]}
DATA=${2:-../shared/data}
BUDGET=${3:-540}
WORK=${WORK:-/tmp/ulmfit_gpu}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
deadline=$(($(date +%s) + BUDGET))
left() { echo $((deadline - $(date +%s))); }
mkdir -p "$RESULTS" "$WORK"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
timeout 90 $PY -m pytest -q -p no:cacheprovider -o addopts= tests/layers/test_recurrent.py tests/training/test_precision.py \
    -k cuda -rs \
    > "$RESULTS/cuda_tests.txt" 2>&1
tail -3 "$RESULTS/cuda_tests.txt"

common=(--data "$DATA" --out "$WORK" --results "$RESULTS/ulmfit.json" --device "$DEVICE" --full-size --threads "${THREADS:-8}"
        --no-baselines --transfer-only --max-length 0 --epochs "${EPOCHS:-4}" --test-size 5000 --tag GPU
        --pretrain-batch-size "${PRETRAIN_BATCH:-256}" --classify-batch-size "${CLASSIFY_BATCH:-64}")
# each stage within what is left (timeout 0 would mean none), each run's records saved after it
stage() {
    local t
    t=$(left)
    if [ "$t" -le 10 ]; then
        echo "no time left for: $*"
        return
    fi
    timeout -k 15 "$t" "$@"
    (cd "$WORK" && tar czf "$RESULTS/runs.tgz" --ignore-failed-read ./*.json ./*/done.json ./*/metrics.jsonl \
        2>/dev/null)
}
stage $PY benchmarks/bench_ulmfit.py --stage pretrain --pretrain-time "${PRETRAIN_TIME:-170}" "${common[@]}"
stage $PY benchmarks/bench_ulmfit.py --stage imdb --finetune-time "${FINETUNE_TIME:-40}" \
    --classify-time "${CLASSIFY_TIME:-200}" "${common[@]}"
if [ "${SST2:-0}" = 1 ]; then
    stage $PY benchmarks/bench_ulmfit.py --stage sst2 --finetune-time 15 --classify-time 30 "${common[@]}"
fi
if [ "$(left)" -gt 40 ]; then
    stage $PY benchmarks/bench_layers.py --device "$DEVICE" --rounds 10 --out "$RESULTS/layers_cuda.json"
fi
echo "seconds left: $(left)"
