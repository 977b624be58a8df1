#!/usr/bin/env bash
# Prints the size of the release image and fails if it cannot fit the 1.5 MB app partition of
# partitions.csv. Needs only binutils' readelf (which reads a RISC-V ELF on any host), not
# espflash.
#
# What it measures: the bytes of every loadable segment of the ELF (program headers of type
# LOAD with a file size), which is what espflash puts into the app image. espflash adds a 24-byte
# header, 8 bytes per segment, a checksum and a 32-byte SHA-256, and pads each segment that is
# mapped from flash (addresses 0x3C000000-0x3C7FFFFF for data, 0x42000000-0x427FFFFF for code) so
# that it starts at the same offset within a 64 KiB MMU page as its address: at most 64 KiB per
# such segment. The check uses that upper bound; `espflash save-image` gives the exact figure.
set -euo pipefail
cd "$(dirname "$0")"
elf=${1:-${CARGO_TARGET_DIR:-target}/riscv32imc-unknown-none-elf/release/assetlog-esp32c3}
partition=$((0x180000))
if [ ! -f "$elf" ]; then
  echo "no firmware image at $elf: build it first (cargo build --release)" >&2
  exit 1
fi
# Read into a variable first: a failure inside `< <(...)` would go unnoticed.
headers=$(readelf -lW "$elf")

loadable=0 segments=0 mapped=0
while read -r type _offset vaddr _paddr filesize _rest; do
  [ "$type" = LOAD ] || continue
  size=$((filesize)) addr=$((vaddr))
  [ "$size" -gt 0 ] || continue
  loadable=$((loadable + size)) segments=$((segments + 1))
  if { [ "$addr" -ge $((0x3C000000)) ] && [ "$addr" -lt $((0x3C800000)) ]; } ||
     { [ "$addr" -ge $((0x42000000)) ] && [ "$addr" -lt $((0x42800000)) ]; }; then
    mapped=$((mapped + 1))
  fi
done <<<"$headers"

if [ "$loadable" -eq 0 ]; then
  echo "$elf has no loadable segments: not a firmware image" >&2
  exit 1
fi

bound=$((loadable + mapped * 65536 + 24 + segments * 8 + 16 + 32))
echo "app image: $loadable bytes in $segments loadable segments ($mapped mapped from flash);" \
  "at most $bound bytes with espflash's padding; app partition $partition bytes" \
  "($((100 * bound / partition))% used at most)"
if [ "$bound" -gt "$partition" ]; then
  echo "the image may not fit the app partition" >&2
  exit 1
fi
