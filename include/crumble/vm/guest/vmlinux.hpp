// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/vmlinux.hpp — the ELF kernel inside a bzImage, for loaders that enter the
// kernel directly (engine/kvm/linux_x86.hpp takes either; tests boot both). Beside
// kernel_image.hpp, which checks what a kernel file is; the decompressors run through
// host/process.hpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../host/input_file.hpp"
#include "../host/process.hpp"
#include "kernel_image.hpp"

namespace crumble::vm {

// The uncompressed ELF vmlinux inside a bzImage, for engines that enter the kernel at its 64-bit
// entry without running the bzImage's own decompressor (which is slow where kernel-mode code is
// emulated). Finds the first compressed stream the kernel can use (LZ4, zstd, xz, gzip, ... by
// magic), decompresses it with the matching Debian tool (lz4, zstd, xz, gzip; a trailing
// appendix makes them complain, which is fine) into `out`, and checks the result is an x86-64
// ELF. Kept: a second call with the same `out` returns at once.
inline std::filesystem::path extract_vmlinux(const std::filesystem::path& image, const std::filesystem::path& out) {
  namespace fs = std::filesystem;
  // Both files through host/input_file.hpp: a FIFO at either path is refused, never waited on.
  auto is_elf = [](const fs::path& p) {
    unsigned char h[20] = {};
    try {
      const InputFile f = open_input<std::runtime_error>(p, "vmlinux");
      if (f.size() < sizeof h) return false;
      f.read_at<std::runtime_error>(0, h, sizeof h);
    } catch (const std::runtime_error&) {
      return false;
    }
    return h[0] == 0x7f && h[1] == 'E' && h[2] == 'L' && h[3] == 'F' && h[4] == 2 && h[18] == 62;
  };
  if (fs::exists(out) && is_elf(out)) return out;
  const std::vector<std::uint8_t> bytes =
      open_input<std::runtime_error>(image, "kernel image", {.max_size = max_kernel_bytes}).read_all<std::runtime_error>();
  const std::string data(bytes.begin(), bytes.end());
  if (data.empty()) throw std::runtime_error("cannot read " + image.string() + ": it is empty");
  struct Format {
    std::string_view magic;
    const char* tool;
  };
  const Format formats[] = {{std::string_view("\x02\x21\x4c\x18", 4), "lz4"}, {std::string_view("\x28\xb5\x2f\xfd", 4), "zstd"},
                            {std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6), "xz"}, {std::string_view("\x1f\x8b\x08", 3), "gzip"}};
  std::vector<std::pair<std::size_t, const Format*>> candidates;
  for (const Format& f : formats)
    for (std::size_t at = data.find(f.magic); at != std::string::npos && candidates.size() < 64; at = data.find(f.magic, at + 1))
      candidates.emplace_back(at, &f);
  std::sort(candidates.begin(), candidates.end());
  const fs::path tmp = out.string() + ".partial";
  for (auto [at, f] : candidates) {
    std::vector<std::string> argv{"sh", "-c", "tail -c +$(($2 + 1)) \"$1\" | " + std::string(f->tool) + " -dc > \"$3\"", "sh",
                                  image.string(), std::to_string(at), tmp.string()};
    run_process(argv, std::chrono::seconds(120));
    if (is_elf(tmp) && fs::file_size(tmp) > (1 << 20)) {
      fs::rename(tmp, out);
      return out;
    }
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  throw std::runtime_error("no compressed x86-64 vmlinux found in " + image.string() + " (tried lz4, zstd, xz, gzip streams)");
}

}  // namespace crumble::vm
