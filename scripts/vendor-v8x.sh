#!/usr/bin/env bash
# Materialises the QuickJS engine crate (v8x) with Brink's patches applied,
# in third_party/v8x, which Cargo.toml's [patch.crates-io] points at.
#
# Why: the engine has bugs that let a hostile worker defeat Brink's limits
# (see patches/v8x/README.md). The crate comes from crates.io, pinned by
# checksum; only the small patches live in this repository. Idempotent: does
# nothing when third_party/v8x already has exactly these patches applied.
set -euo pipefail
cd "$(dirname "$0")/.."

name=v8x
version=149.4.0-rc.4
sha256=3701ffb3692a24808503d17f758b0a3f688d2c451779247982566b5941033e63
target=third_party/$name
stamp_file=$target/.brink-patches

stamp=$( (echo "$version"; cat patches/$name/*.patch) | sha256sum | cut -d' ' -f1)
if [[ -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crate=$work/$name-$version.crate
cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -1 || true)
if [[ -n $cached ]]; then
  cp "$cached" "$crate"
else
  echo "downloading $name $version from crates.io" >&2
  curl -fsSL --retry 3 -o "$crate" "https://static.crates.io/crates/$name/$name-$version.crate"
fi
echo "$sha256  $crate" | sha256sum -c --quiet -

tar -xzf "$crate" -C "$work"
for patch in patches/$name/*.patch; do
  patch -s -p1 -d "$work/$name-$version" < "$patch"
done
rm -rf "$target"
mkdir -p third_party
mv "$work/$name-$version" "$target"
echo "$stamp" > "$stamp_file"
echo "prepared $target ($name $version with $(ls patches/$name/*.patch | wc -l) patches)" >&2
