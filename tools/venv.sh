# Sourced by demo.sh and test.sh: make ./.venv current with a requirements file.
# Usage: . tools/venv.sh requirements-test.txt
# The environment is reused while the requirement files are unchanged (a hash stamp).
set -euo pipefail
req=${1:-requirements.txt}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.unpicker-requirements"
want=$(cat "$root/requirements.txt" "$root/$req" "$root/pyproject.toml" | sha256sum | cut -c1-16)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing into $venv (one time, about a minute) ..."
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/$req"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$root"
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
