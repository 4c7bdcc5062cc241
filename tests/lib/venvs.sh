# shellcheck shell=bash
# Python virtualenvs for tests/run. Sourced, not executed.
#
# A venv is rebuilt only when its requirements file or interpreter changed: the hash of both is kept
# in a stamp file inside the venv, so a rerun with unchanged pins costs a few milliseconds.

# find_python MAJOR.MINOR [EXACT_PYENV_VERSION] — prints an interpreter path of that version.
find_python() {
    local want=$1 pyenv_version=${2:-} candidate
    local candidates=()
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root=$(pyenv root)
        if [[ -n $pyenv_version ]]; then
            candidates+=("$root/versions/$pyenv_version/bin/python")
        else
            # Newest patch release first.
            while IFS= read -r candidate; do
                candidates+=("$candidate")
            done < <(printf '%s\n' "$root/versions/$want".*/bin/python | sort -rV)
        fi
    fi
    if [[ -z $pyenv_version ]] && command -v "python$want" >/dev/null 2>&1; then
        candidates+=("$(command -v "python$want")")
    fi
    for candidate in "${candidates[@]}"; do
        if [[ -x $candidate ]] &&
            "$candidate" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    log "no Python $want interpreter found (looked for ${pyenv_version:+pyenv version $pyenv_version, }python$want and pyenv's $want.*)"
    return 1
}

# ensure_venv DIR PYTHON REQUIREMENTS_FILE [PIP_INSTALL_ARGS...] — creates or refreshes DIR so it
# holds exactly the pins.
ensure_venv() {
    local dir=$1 python=$2 requirements=$3
    shift 3
    local stamp_file="$dir/.skiff-requirements-stamp" wanted_stamp
    wanted_stamp=$( { "$python" --version 2>&1; cat "$requirements"; if (($#)); then echo "$*"; fi; } | sha256sum | cut -d' ' -f1)
    if [[ -x $dir/bin/python && -f $stamp_file && $(cat "$stamp_file") == "$wanted_stamp" ]]; then
        log "$dir is up to date with $requirements"
        return 0
    fi
    log "building $dir with $("$python" --version 2>&1) from $requirements"
    # Explicit `|| return`: run_phase calls this in a `||` context, where `set -e` does not apply.
    rm -rf "$dir" || return 1
    "$python" -m venv "$dir" || return 1
    PIP_NO_INPUT=1 "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
        --progress-bar off "$@" -r "$requirements" || return 1
    printf '%s\n' "$wanted_stamp" >"$stamp_file"
}
