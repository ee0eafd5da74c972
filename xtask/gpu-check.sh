#!/usr/bin/env bash
# Times the GPU targets on a lent GPU machine, from the kit `cargo xtask gpu-kit` packs: that
# machine has no Rust toolchain and reaches no registry. Run from the repository root there,
# with `.gpu-kit` carried:  bash .gpu-kit/run.sh [SECONDS]
# SECONDS (default 90) bounds each timed part; what is cut short is projected (the table says
# so). The table goes to standard output and to $OUT/targets.txt.
set -euo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp}

# The Vulkan loader, if the machine lacks it (its driver's ICD file is usually there).
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  for deb in "$kit"/debs/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -e "$nvidia_icd" ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$nvidia_icd
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nproc

gunzip -c "$kit/backend_race.gz" > /tmp/backend_race
chmod +x /tmp/backend_race
/tmp/backend_race targets "${1:-90}" 2>&1 | tee "$out/targets.txt"
