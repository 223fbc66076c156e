# Sourced by scripts/check-deploy and scripts/demo-lambda: creates (once) and updates ONE venv,
# .venv-deploy, with the pinned deploy tools of devstack/requirements-deploy.txt (aws-sam-cli,
# cfn-lint, cargo-lambda, ziglang), and puts it first on PATH. They share one venv because
# cargo-lambda finds zig through the first python3 on PATH and sam finds cargo-lambda on PATH.
# Failures exit with an install hint; nothing is skipped.

DEPLOY_VENV="${DEPLOY_VENV:-$PWD/.venv-deploy}"
DEPLOY_REQUIREMENTS=devstack/requirements-deploy.txt

deploy_venv_die() {
    echo "error: $*" >&2
    exit 1
}

deploy_venv_setup() {
    command -v python3 >/dev/null 2>&1 \
        || deploy_venv_die "python3 is not installed: install Python 3.11 or newer with pip and venv (Debian/Ubuntu: apt-get install python3 python3-venv python3-pip)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || deploy_venv_die "python3 is $(python3 -V 2>&1); Python 3.11 or newer is needed"
    if [ ! -x "$DEPLOY_VENV/bin/python" ]; then
        echo "== creating $DEPLOY_VENV" >&2
        python3 -m venv "$DEPLOY_VENV" \
            || deploy_venv_die "cannot create $DEPLOY_VENV: install the venv module (Debian/Ubuntu: apt-get install python3-venv)"
    fi
    if [ ! -e "$DEPLOY_VENV/.requirements-installed" ] \
       || [ "$DEPLOY_REQUIREMENTS" -nt "$DEPLOY_VENV/.requirements-installed" ]; then
        echo "== installing $DEPLOY_REQUIREMENTS into $DEPLOY_VENV (about a minute, once)" >&2
        "$DEPLOY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$DEPLOY_REQUIREMENTS" \
            || deploy_venv_die "pip could not install $DEPLOY_REQUIREMENTS into $DEPLOY_VENV"
        touch "$DEPLOY_VENV/.requirements-installed"
    fi
    export PATH="$DEPLOY_VENV/bin:$PATH"
    export VIRTUAL_ENV="$DEPLOY_VENV"
}
