# Sourced by scripts/: creates .venv (once) with the local stack's packages (moto, duckdb,
# sqlglot) and exports DEVSTACK_PYTHON and MOTO_SERVER, which the integration tests use.
venv_dir="${VENV_DIR:-$PWD/.venv}"
if [ ! -x "$venv_dir/bin/python" ]; then
    echo "== creating $venv_dir" >&2
    python3 -m venv "$venv_dir"
fi
if ! "$venv_dir/bin/python" -c "import moto, duckdb, sqlglot" 2>/dev/null \
   || [ devstack/requirements.txt -nt "$venv_dir/.requirements-installed" ]; then
    echo "== installing devstack/requirements.txt into $venv_dir" >&2
    "$venv_dir/bin/python" -m pip install --quiet --disable-pip-version-check -r devstack/requirements.txt
    touch "$venv_dir/.requirements-installed"
fi
export DEVSTACK_PYTHON="$venv_dir/bin/python"
export MOTO_SERVER="$venv_dir/bin/moto_server"
