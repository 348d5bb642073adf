# Sourced by the tools/ scripts (from the repository root).
# quietly LOG COMMAND...: COMMAND's output goes to LOG; when COMMAND fails,
# LOG is printed (on standard output), named after the calling script.
quietly() {
  local log=$1
  shift
  mkdir -p "$(dirname "$log")"
  "$@" >"$log" 2>&1 || {
    local rc=$?
    echo "$(basename "$0" .sh): '$*' failed with status $rc; its output ($log):"
    cat "$log"
    return $rc
  }
}
