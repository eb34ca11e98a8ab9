#!/usr/bin/env bash
# Fetches the pinned Node.js runtime (agent/packaging/node-runtime.json) for one architecture from
# the npm registry, checks the tarball against the pinned sha512, and unpacks it into DEST
# (DEST/bin/node, DEST/LICENSE). Does nothing when DEST/bin/node already is that version's binary.
#   fetch-node.sh x64|arm64 DEST
set -euo pipefail
arch=${1:?usage: fetch-node.sh x64|arm64 DEST}
dest=${2:?usage: fetch-node.sh x64|arm64 DEST}
pin="$(dirname "$0")/node-runtime.json"
field() { node -e 'const p=require(process.argv[1]); const a=process.argv[2]; const f=process.argv[3]; process.stdout.write(f==="version"?p.version:p.packages[a][f]);' "$(realpath "$pin")" "$arch" "$1"; }
version=$(field version)
name=$(field name)
integrity=$(field integrity)
stamp="$dest/.vigil-runtime"
if [ -x "$dest/bin/node" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$name@$version $integrity" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-node: $name@$version from the npm registry" >&2
(cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
tarball="$tmp/$name-$version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "fetch-node: $name@$version: integrity $actual is not the pinned $integrity (agent/packaging/node-runtime.json)" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$tarball" -C "$dest" --strip-components=1 package/bin/node package/LICENSE
echo "$name@$version $integrity" >"$stamp"
