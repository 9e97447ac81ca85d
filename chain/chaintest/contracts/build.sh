#!/bin/sh
# Rebuilds the .bin and .abi files beside the sources with solc 0.8.28
# from npm. The output is reproducible: running this again on unchanged
# sources gives the same bytes (the metadata hash covers the sources).
set -eu
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --yes solc@0.8.28 --bin --abi --optimize --optimize-runs 200 \
	--base-path . -o "$out" Token.sol FalseToken.sol FeeToken.sol
for c in Token FalseToken FeeToken; do
	cp "$out/${c}_sol_${c}.bin" "$c.bin"
	cp "$out/${c}_sol_${c}.abi" "$c.abi"
done
