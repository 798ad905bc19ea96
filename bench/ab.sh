# Sourced by the A/B benchmarks (engine.sh, sync_step.sh, l2f_step.sh): `cals bench CASE` and its
# PyTorch reference run in alternating rounds, so machine load hits both sides alike. Gives
# ab_options (flags), ab_rounds (the round loop) and $AB_OUT (a scratch folder of JSON lines,
# read back by harness.best_round and `harness.py ab-table`).
CALS=${CALS:-.build/release/cals}
PY=${PY:-.venv/bin/python}
AB_OUT=$(mktemp -d)
trap 'rm -rf "$AB_OUT"' EXIT

# ab_options NAME=DEFAULT… -- "$@": sets each NAME to $NAME from the environment, else DEFAULT,
# then to VALUE for each flag --name VALUE (name: NAME in lower case, '-' for '_'). Any other
# argument prints the usage and exits 2.
ab_options() {
  local names=() option usage
  while [ "$1" != "--" ]; do
    option=${1%%=*}
    names+=("$option")
    printf -v "$option" '%s' "${!option:-${1#*=}}"
    shift
  done
  shift
  while [ $# -gt 0 ]; do
    option=${1#--}; option=${option^^}; option=${option//-/_}
    if [[ $1 == --* && $# -ge 2 && " ${names[*]} " == *" $option "* ]]; then
      printf -v "$option" '%s' "$2"; shift 2
    else
      usage="usage: $0"
      for option in "${names[@]}"; do option=${option,,}; usage+=" [--${option//_/-} N]"; done
      echo "$usage" >&2; exit 2
    fi
  done
}

# ab_rounds CASE SWIFT_COMMAND… -- PYTHON_COMMAND…: $ROUNDS times the Swift command, then the
# Python one, appending their JSON lines to $AB_OUT/CASE.swift and $AB_OUT/CASE.torch.
ab_rounds() {
  local name=$1 swift=()
  shift
  while [ "$1" != "--" ]; do swift+=("$1"); shift; done
  shift
  for _ in $(seq "$ROUNDS"); do
    "${swift[@]}" >> "$AB_OUT/$name.swift"
    "$@" >> "$AB_OUT/$name.torch"
  done
}
