#!/usr/bin/env bash
# Fetches Microsoft's Adaptive Cards renderer (npm package adaptivecards, MIT) at the pinned
# version, checks the package against its pinned integrity, and copies its prebuilt browser
# bundle, stylesheet and licence into assets/vendor/ with their SHA-256 sums (SHA256SUMS, which a
# test checks). Run it only to move to another version: the copied files are committed, so no
# build or CI step needs npm. Usage: shared/console/scripts/vendor-adaptivecards.sh
set -euo pipefail
version=3.0.6
integrity='sha512-WDCIb2WXZ7cOHJ9HIHRNdhSt861HySVOdN2xPk2aKHAF3JvD8QGQ8/XcNFrDJxCteOog8MM7EBlXfSAR8JXKAg=='
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$here/assets/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "adaptivecards@$version" >/dev/null)
tarball="$work/adaptivecards-$version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "adaptivecards-$version.tgz: integrity $actual, expected $integrity" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$vendor"
cp "$work/package/dist/adaptivecards.min.js" "$vendor/adaptivecards.min.js"
cp "$work/package/dist/adaptivecards.min.js.LICENSE.txt" "$vendor/adaptivecards.min.js.LICENSE.txt"
cp "$work/package/dist/adaptivecards.css" "$vendor/adaptivecards.css"
cp "$work/package/LICENSE" "$vendor/LICENSE.adaptivecards"
# The bundle ends with a source-map comment naming a map that is not shipped.
sed -i -e '$ s|//# sourceMappingURL=.*$||' "$vendor/adaptivecards.min.js"
sed -i -e '$ s|/\*# sourceMappingURL=.*\*/$||' "$vendor/adaptivecards.css"
echo "$version" > "$vendor/VERSION"
(cd "$vendor" && sha256sum adaptivecards.min.js adaptivecards.min.js.LICENSE.txt adaptivecards.css LICENSE.adaptivecards VERSION > SHA256SUMS)
echo "vendored adaptivecards $version into $vendor"
