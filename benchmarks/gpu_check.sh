#!/usr/bin/env bash
# The GPU check (README.md: "Checked on a GPU"): the default comparison (digits, 64-30-10, 30 epochs) on
# every installed Keras backend, in float64 and in float32, then one table per dtype. Run it on a
# machine with an NVIDIA GPU and JAX or PyTorch built for CUDA; elsewhere it runs the same on the CPU.
#
#   benchmarks/gpu_check.sh --fetch-wheels   on a machine with pip access: Keras and the two small
#                                            packages it needs that a JAX/PyTorch GPU image may lack,
#                                            as wheels in .whl/ (git-ignored) for the GPU machine's
#                                            Python: 3.12 by default (our lent GPU machine's), or
#                                            WHEEL_PYTHON=3.11 (optree's wheel is compiled per version)
#   benchmarks/gpu_check.sh                  the check; installs Keras from .whl/ (never from the
#                                            network) when `import keras` fails
# EPOCHS=3 benchmarks/gpu_check.sh gives a quick try; LOGDIR (default runs) is where the runs go.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = "--fetch-wheels" ]; then
    "$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version "${WHEEL_PYTHON:-3.12}" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$WHEELS" keras==3.15.1 namex==0.1.0 optree==0.20.0
    exit 0
fi

if ! "$PYTHON" -c "import keras" 2>/dev/null; then
    ls "$WHEELS"/keras-*.whl >/dev/null 2>&1 || { echo "error: no keras here and no wheels in $WHEELS: run $0 --fetch-wheels on a machine with pip access" >&2; exit 2; }
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/gpu_check_site "$WHEELS"/*.whl
    export PYTHONPATH=/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}
fi

echo "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'none (no nvidia-smi)')"
"$PYTHON" - <<'EOF'
import importlib.metadata, sys
versions = {"Python": sys.version.split()[0]}
for name in ("keras", "jax", "jaxlib", "torch", "tensorflow"):
    try:
        versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        versions[name] = "not installed"
print(", ".join(f"{k} {v}" for k, v in versions.items()))
EOF

LOGDIR=${LOGDIR:-runs}
mkdir -p "$LOGDIR"
stamp=$(date +%Y%m%d-%H%M%S)
status=0
for dtype in float64 float32; do
    "$PYTHON" -m compare run --backend all --dtype "$dtype" --epochs "${EPOCHS:-30}" --logdir "$LOGDIR" \
        --name "gpu-check-$dtype-$stamp" --json "$LOGDIR/gpu-check-$dtype-$stamp.json" > "$LOGDIR/gpu-check-$dtype-$stamp.log" 2>&1 \
        || status=$?
    echo
    echo "== $dtype (full output: $LOGDIR/gpu-check-$dtype-$stamp.log)"
    sed -n '/^backend  *device/,$p' "$LOGDIR/gpu-check-$dtype-$stamp.log"
done
exit $status
