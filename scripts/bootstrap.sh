#!/usr/bin/env bash
# Prepares a fresh machine for `make run` and `make test`: checks the Odoo 18 tree,
# installs the Debian packages the project needs (when root) and builds .venv.
# Idempotent: a second run only checks.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
odoo_src=${ODOO_SRC:-/opt/odoo}
venv="$repo/.venv"
python=${PYTHON:-python3.11}

die() { echo "bootstrap: $*" >&2; exit 1; }

# 1. Odoo itself is on no package registry: it must be provided as a source tree.
if [ ! -f "$odoo_src/odoo-bin" ] || [ ! -f "$odoo_src/odoo/release.py" ]; then
  die "no Odoo source tree at $odoo_src (odoo-bin missing).
  mail_router needs a stock Odoo 18.0 source tree: put one at /opt/odoo, or point
  ODOO_SRC at it (e.g. a checkout of the odoo/odoo repository, branch 18.0)."
fi
odoo_version=$(sed -n "s/^version_info = (\([0-9]*\), \([0-9]*\).*/\1.\2/p" "$odoo_src/odoo/release.py")
[ "$odoo_version" = "18.0" ] || die "the Odoo tree at $odoo_src is version ${odoo_version:-unknown}, mail_router needs 18.0"

# 2. Debian packages: build headers for Odoo's requirements, the servers the tests run.
packages=$(grep -v '^#' "$repo/debian-packages.txt" | xargs)
missing=()
for package in $packages; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing Debian packages: ${missing[*]}
  install them with: sudo apt-get install ${missing[*]}"
  fi
fi

# 3. The virtualenv, rebuilt only when a requirements file changed.
command -v "$python" >/dev/null || die "$python not found: mail_router needs Python 3.11"
stamp_value=$(cat "$odoo_src/requirements.txt" "$repo/requirements.txt" "$repo/requirements-dev.txt" \
  "$repo/constraints-build.txt" | sha256sum | cut -c1-16)
stamp="$venv/.mail_router-installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_value" ]; then
  exit 0
fi
echo "bootstrap: building $venv (Odoo's requirements and the project's)"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# cbor2's setup imports pkg_resources, gone from setuptools 81: the constraint reaches the
# isolated build environments through PIP_CONSTRAINT.
export PIP_CONSTRAINT="$repo/constraints-build.txt"
# (grep drops pip's notes about this machine's empty local package folders)
"$venv/bin/pip" install -q -r "$odoo_src/requirements.txt" -r "$repo/requirements.txt" -r "$repo/requirements-dev.txt" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$stamp_value" > "$stamp"
