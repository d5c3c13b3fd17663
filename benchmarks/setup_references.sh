#!/usr/bin/env bash
# Build the reference systems' virtualenvs for bench_datasets.py: one venv per reference, installed from
# the pinned requirements files beside this script, so no reference is ever a dependency of mlpilot.
#
#   benchmarks/setup_references.sh              # both references
#   benchmarks/setup_references.sh autogluon    # only one: flaml | autogluon
#
# Settings (environment variables; the defaults put the venvs beside the repository, i.e. next to its root
# folder, so every work tree of the repository finds the same ones):
#   FLAML_VENV      where FLAML and the default-LightGBM floor live   (default: <repo>/../.venv-flaml)
#   AUTOGLUON_VENV  where AutoGluon lives                              (default: <repo>/../.venv-autogluon)
#   PYTHON          the interpreter the venvs are made from            (default: python3; 3.11 measured)
#   AUTOGLUON_NN    yes | no: AutoGluon's neural networks (NN_TORCH, FASTAI) with a CPU build of PyTorch
#                   (default yes). PyPI's own torch wheel is a CUDA build of several GB, so the pinned
#                   torch==2.13.0+cpu must come from the PyTorch CPU index or a local wheel (set
#                   PIP_EXTRA_INDEX_URL or PIP_FIND_LINKS). With no, AutoGluon's presets skip both model
#                   types and fit the tree models only (no does not remove them from an existing venv).
#
# Idempotent: an existing venv is reused and pip installs only what is missing or pinned differently.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
beside_repo="$(cd "$here/../.." && pwd)"
FLAML_VENV="${FLAML_VENV:-$beside_repo/.venv-flaml}"
AUTOGLUON_VENV="${AUTOGLUON_VENV:-$beside_repo/.venv-autogluon}"
PYTHON="${PYTHON:-python3}"
AUTOGLUON_NN="${AUTOGLUON_NN:-yes}"

say() { printf '==> %s\n' "$*" >&2; }

make_venv() {  # make_venv DIR: create it unless a working one is there
    local dir="$1"
    if [[ -x "$dir/bin/python" ]] && "$dir/bin/python" -c 'import sys' 2>/dev/null; then
        say "reusing $dir ($("$dir/bin/python" --version 2>&1))"
    else
        say "creating $dir with $("$PYTHON" --version 2>&1)"
        "$PYTHON" -m venv "$dir"
    fi
}

setup_flaml() {
    make_venv "$FLAML_VENV"
    "$FLAML_VENV/bin/python" -m pip install --quiet -r "$here/requirements-flaml.txt"
    "$FLAML_VENV/bin/python" -c 'import flaml, lightgbm; print("FLAML", flaml.__version__, "LightGBM", lightgbm.__version__)'
}

setup_autogluon() {
    make_venv "$AUTOGLUON_VENV"
    "$AUTOGLUON_VENV/bin/python" -m pip install --quiet -r "$here/requirements-autogluon.txt"
    case "$AUTOGLUON_NN" in
        yes)
            if ! "$AUTOGLUON_VENV/bin/python" -m pip install --quiet -r "$here/requirements-autogluon-nn.txt"; then
                say "AutoGluon's neural networks were not installed (pip's error above). The usual cause:" \
                    "requirements-autogluon-nn.txt needs torch==2.13.0+cpu, which PyPI does not have. Point pip" \
                    "at it (PIP_EXTRA_INDEX_URL=<PyTorch CPU index> or PIP_FIND_LINKS=<folder with the wheel>)," \
                    "or run again with AUTOGLUON_NN=no to keep AutoGluon's tree models only."
                exit 1
            fi ;;
        no) say "AUTOGLUON_NN=no: AutoGluon without NN_TORCH and FASTAI" ;;
        *) say "AUTOGLUON_NN must be yes or no, not '$AUTOGLUON_NN'"; exit 2 ;;
    esac
    # Which of the model types that medium_quality and best_quality ask for this venv can fit.
    "$AUTOGLUON_VENV/bin/python" "$here/_reference_worker.py" --list-autogluon-models
}

targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(flaml autogluon)
for target in "${targets[@]}"; do
    case "$target" in
        flaml) setup_flaml ;;
        autogluon) setup_autogluon ;;
        *) say "unknown reference '$target'; choose flaml or autogluon"; exit 2 ;;
    esac
done
say "done. bench_datasets.py finds them by default; elsewhere pass" \
    "--flaml-python $FLAML_VENV/bin/python --autogluon-python $AUTOGLUON_VENV/bin/python"
