#!/usr/bin/env bash
# Builds the release binary under variations of [profile.release], each as its own cargo profile
# (inherits = "release", set with --config: Cargo.toml is not touched), with symbols kept for
# callgrind; a stripped copy is what gets sized and timed. Used for docs/performance.md:
#
#   bench/build-variants.sh [SRC_DIR] [TARGET_DIR] [VARIANT...]
#     SRC_DIR     the crate to build (default: this checkout)
#     TARGET_DIR  a cargo target dir (default: target/bench-variants)
#     VARIANT     any of: base opt-s opt-z lto-thin lto-off panic-abort (default: all)
#
# Then:  bench/run.py --no-peer --rust-bin TARGET_DIR/VARIANT/rlqa-stripped \
#            --callgrind-bin TARGET_DIR/VARIANT/redshift-long-query-alert --only init,callgrind,scale
# Each variant rebuilds every dependency (the profile differs): 5-8 minutes each on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${1:-$root}"
target="${2:-$root/target/bench-variants}"
shift $(( $# > 2 ? 2 : $# ))
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(base opt-s opt-z lto-thin lto-off panic-abort)

for v in "${variants[@]}"; do
    profile="bench-${v}"
    settings=(--config "profile.${profile}.inherits=\"release\"" --config "profile.${profile}.strip=\"none\"")
    case "$v" in
        base) ;;
        opt-s) settings+=(--config "profile.${profile}.opt-level=\"s\"") ;;
        opt-z) settings+=(--config "profile.${profile}.opt-level=\"z\"") ;;
        lto-thin) settings+=(--config "profile.${profile}.lto=\"thin\"" --config "profile.${profile}.codegen-units=16") ;;
        lto-off) settings+=(--config "profile.${profile}.lto=false" --config "profile.${profile}.codegen-units=16") ;;
        panic-abort) settings+=(--config "profile.${profile}.panic=\"abort\"") ;;
        *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    echo "== building $v" >&2
    started=$(date +%s)
    (cd "$src" && CARGO_TARGET_DIR="$target" nice -n 10 cargo build --locked --profile "$profile" "${settings[@]}")
    took=$(( $(date +%s) - started ))
    mkdir -p "$target/$v"
    cp "$target/$profile/redshift-long-query-alert" "$target/$v/redshift-long-query-alert"
    objcopy --strip-all "$target/$v/redshift-long-query-alert" "$target/$v/rlqa-stripped"
    echo "$took" > "$target/$v/build-seconds"
    echo "== $v built in ${took}s: $(stat -c %s "$target/$v/rlqa-stripped") bytes stripped" >&2
done
