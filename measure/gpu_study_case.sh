#!/usr/bin/env bash
# One case of the study matrix end to end on a GPU machine: a study model generates on vLLM
# (100 per label, target-language demos + revision), XLM-R base is fine-tuned on the result and on
# gold, and the record and leaderboard are written to $OUT (default runs/gpu).
#
#   bash measure/gpu_study_case.sh [MODEL] [LANGUAGE]      # default: gemma3-4b de
#
# Needs: a CUDA GPU, `pip install -e ".[vllm]"` (a CUDA build of vLLM), and the model's weights:
# hub access, or HF_HUB_OFFLINE=1 with the model in the local Hugging Face cache. Prints the GPU,
# the vLLM version and the case's summary line; exits non-zero when the case fails.
set -euo pipefail
MODEL=${1:-gemma3-4b}
LANGUAGE=${2:-de}
OUT=${OUT:-runs/gpu}
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python -c "import vllm; print('vllm', vllm.__version__)"
CASE="sib200-${LANGUAGE}-target_demos_revision-${MODEL//[-.]/_}-n100-"
python -m pytest tasks/sib200.yaml -k "$CASE" --collect-only -q | tail -n 3
python -m pytest tasks/sib200.yaml -k "$CASE" --bench-out "$OUT" --bench-seeds 3 -x -q
python -m pytest baselines/gold_study.yaml -k "sib200-${LANGUAGE}-gold-n100-" --bench-out "$OUT" \
  --bench-seeds 3 -x -q
