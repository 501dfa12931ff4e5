#!/usr/bin/env bash
# Materialises the crates Brink patches, each in third_party/<name> with the
# patches of patches/<name>/ applied; Cargo.toml's [patch.crates-io] points
# at them. `make` runs this before any build.
#
# Why: the QuickJS engine (v8x) has bugs that let a hostile worker defeat
# Brink's limits (patches/v8x/README.md), and deno_fetch's and deno_web's
# JavaScript have request-path costs Brink removes with native fast paths
# (patches/deno_fetch/README.md, patches/deno_web/README.md). Each crate comes from crates.io, pinned by
# checksum; only the small patches live in this repository. Idempotent: a
# crate whose copy already has exactly these patches applied is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# name version sha256 (the checksum Cargo.lock records)
crates=(
  "v8x 149.4.0-rc.4 3701ffb3692a24808503d17f758b0a3f688d2c451779247982566b5941033e63"
  "deno_fetch 0.284.0 752387783c99f75ea6962bb88af3735baba9f4a9e66716eacd39586db0e28d99"
  "deno_web 0.291.0 8658d7955894408e10b53018f651435ca6418b873be2e0b7d98224f3493c20f2"
)

vendor() {
  local name=$1 version=$2 sha256=$3
  local target=third_party/$name
  local stamp_file=$target/.brink-patches
  local stamp
  stamp=$( (echo "$version"; cat patches/"$name"/*.patch) | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]]; then
    return 0
  fi

  local work
  work=$(mktemp -d)
  local crate=$work/$name-$version.crate
  local cached
  cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -1 || true)
  if [[ -n $cached ]]; then
    cp "$cached" "$crate"
  else
    echo "downloading $name $version from crates.io" >&2
    curl -fsSL --retry 3 -o "$crate" "https://static.crates.io/crates/$name/$name-$version.crate"
  fi
  echo "$sha256  $crate" | sha256sum -c --quiet -

  tar -xzf "$crate" -C "$work"
  local patch
  for patch in patches/"$name"/*.patch; do
    patch -s -p1 -d "$work/$name-$version" < "$patch"
  done
  rm -rf "$target"
  mkdir -p third_party
  mv "$work/$name-$version" "$target"
  rm -rf "$work"
  echo "$stamp" > "$stamp_file"
  echo "prepared $target ($name $version with $(ls patches/"$name"/*.patch | wc -l) patches)" >&2
}

for entry in "${crates[@]}"; do
  # shellcheck disable=SC2086 # three words by design
  vendor $entry
done
