#!/usr/bin/env bash
# `charrnn bench` on a GPU machine (through wgpu and Vulkan) against ndarray on
# that machine's CPU: B 1, 256 and 1024 at H 100 and H 512, then the LSTM
# configs on wgpu. The GPU machine has no Rust toolchain, so build and strip
# the binary here first:
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
for hidden in 100 512; do
  for batch in 1 256 1024; do
    for backend in wgpu ndarray; do
      iters=220
      [ "$batch" -ge 256 ] && iters=60
      [ "$backend" = ndarray ] && [ "$batch" -ge 256 ] && iters=25
      timeout 120 "$bin" bench --config tiny.toml --backend "$backend" --hidden-size "$hidden" \
        --batch-size "$batch" --iterations "$iters" 2>&1 | grep -E '^(BENCH|error)' ||
        echo "BENCH backend=$backend hidden=$hidden batch=$batch failed or timed out"
    done
  done
done
for config in lstm.toml lstm-512.toml; do
  timeout 120 "$bin" bench --config "$config" --backend wgpu --iterations 40 2>&1 | grep -E '^(BENCH|error)' ||
    echo "BENCH backend=wgpu config=$config failed or timed out"
done
