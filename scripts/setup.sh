#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything crumble needs to build and test on Debian 12, idempotently.
# Run as root (or with sudo available). Says what it does; fails loudly.
set -euo pipefail

packages=(
  # build: GCC 12 builds everything; scripts/test.sh builds the code-generation tests again with
  # Clang 19 (the newest Clang in Debian 12); Clang 16 is the oldest supported (README). The
  # libclang-rt packages hold Clang's sanitizer runtimes (the fuzz replays run under ASan + UBSan)
  g++ cmake ninja-build make clang-19 clang-16 libclang-rt-19-dev libclang-rt-16-dev
  # library dependencies (libfdt for device trees; for containers:
  # libarchive for tar, nlohmann-json for the image JSON, libcrypto for sha256)
  libfdt-dev libarchive-dev nlohmann-json3-dev libssl-dev
  # tests and benchmarks
  catch2 libbenchmark-dev libasmjit-dev libxbyak-dev
  # oracles: encoders against LLVM's assembler; foreign code under qemu-user; cpio archives
  # against GNU cpio; module dependencies against modinfo (kmod); ACPI tables against iasl
  llvm-14 qemu-user binutils-aarch64-linux-gnu binutils-riscv64-linux-gnu cpio kmod acpica-tools
  # gofmt checks that every RTG file is valid Go (Go itself builds nothing here)
  golang-go
  # microVMs: the QEMU engine (x86-64 guests; ARM64 guests: qemu-system-arm; RISC-V 64 guests:
  # qemu-system-misc, with OpenSBI from qemu-system-data), and the guest's default root
  # filesystem; dtc and fdtget read the device trees back in the tests
  qemu-system-x86 qemu-system-arm qemu-system-misc busybox-static device-tree-compiler
  # containers: root images (erofs), volumes (virtiofsd comes with qemu-system-common), foreign
  # binaries (qemu-user-static for binfmt_misc); the tools that make test images (the oracles of
  # the formats) and the peers the benchmarks compare with; podman and containerd drive the OCI
  # runtime
  erofs-utils e2fsprogs qemu-user-static umoci skopeo podman runc crun containerd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || { echo "setup: apt-get install failed for: ${missing[*]}" >&2; exit 1; }
fi

# llvm-14 installs versioned binaries; the tests look for llvm-mc-14 first, so no symlinks are needed.
command -v llvm-mc-14 >/dev/null || { echo "setup: llvm-mc-14 missing after install" >&2; exit 1; }
echo "setup: done"
