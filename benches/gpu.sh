#!/usr/bin/env bash
# `charrnn bench` on a GPU machine (through wgpu and Vulkan) beside two of
# that machine's CPU cores: the LSTM and GRU at the sizes of issue #32, then
# the tanh RNN. The GPU machine has no Rust toolchain, so build and strip the
# binary here first:
#
#   cargo build -p train --features wgpu && mkdir -p .gpu && \
#     cp "${CARGO_TARGET_DIR:-target}/debug/charrnn" .gpu/charrnn && strip .gpu/charrnn
#
# then, with the Vulkan loader's and glvnd's .deb files in .gl/ (`apt-get
# download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2`:
# with libvulkan1 alone wgpu finds no adapter), run this script there with
# `.gpu` and `.gl` carried. It prints one
# BENCH line per case (ms/iter, chars/s, peak memory).
set -uo pipefail
cd "$(dirname "$0")/.."
for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig 2>/dev/null || true
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -e "$icd" ] && export VK_DRIVER_FILES="$icd"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
bin=.gpu/charrnn
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
# The recurrent layers as CubeCL kernels (one launch per step and layer each
# way): 2-layer LSTM and GRU of 128 and 512 units, T 50, Adam, at B 50 and
# B 256 on wgpu, then B 50 on two of this machine's CPU cores (flex) beside
# them. Each case prints its launch count and a BENCH line.
run() {
  timeout 90 "$bin" bench --config lstm.toml --optimizer adam "$@" 2>&1 |
    grep -E '^(BENCH|kernels|error)' || echo "BENCH $* failed or timed out"
}
for model in lstm gru; do
  for hidden in 128 512; do
    for batch in 50 256; do
      run --model "$model" --hidden-size "$hidden" --batch-size "$batch" --backend wgpu --iterations 40
    done
    run --model "$model" --hidden-size "$hidden" --batch-size 50 --backend flex --threads 2 --iterations 10
  done
done
# min-char-rnn's network at B 1 and B 256 (launch-bound at B 1).
for batch in 1 256; do
  run --config tiny.toml --batch-size "$batch" --backend wgpu --iterations 100
done
