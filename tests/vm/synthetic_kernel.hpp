// SPDX-License-Identifier: Apache-2.0
// tests/vm/synthetic_kernel.hpp — kernels made of our own code, for the loader and the KVM engine.
//
// A bzImage whose 64-bit entry jumps to code we give it: it passes every check a real one must
// (kernel_image.hpp), loads where a real one would, and is entered the same way, so a test sees
// what the loader and the engine hand a kernel, at the cost of a few emulated instructions.
#pragma once

#include <crumble/code/buffer.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

namespace crumble::test {

inline void put_le(std::vector<std::uint8_t>& f, std::size_t at, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) f[at + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(v >> (8 * k));
}

// Two sectors of setup with the header, then the "kernel": a jmp at 0x200 (the 64-bit entry) to
// `img` placed at 0x400, relocated for the preferred load address (16 MiB).
inline std::vector<std::uint8_t> synthetic_bzimage(const code::Image& img, std::uint16_t protocol = 0x020f) {
  const std::uint64_t load_at = 0x1000000, code_at = 0x400;
  std::vector<std::uint8_t> kernel((code_at + img.bytes.size() + 15) & ~std::size_t{15}, 0);  // syssize counts 16-byte units
  std::copy(img.bytes.begin(), img.bytes.end(), kernel.begin() + code_at);
  for (std::uint32_t off : img.relocs) {
    std::uint64_t v = 0;
    std::memcpy(&v, &kernel[code_at + off], 8);
    v += load_at + code_at;
    std::memcpy(&kernel[code_at + off], &v, 8);
  }
  const std::int64_t rel = static_cast<std::int64_t>(code_at + img.entry) - (0x200 + 5);
  kernel[0x200] = 0xe9;
  put_le(kernel, 0x201, static_cast<std::uint64_t>(rel), 4);
  std::vector<std::uint8_t> f(1024, 0);
  put_le(f, 0x1f1, 1, 1);                           // setup_sects
  put_le(f, 0x1f4, (kernel.size() + 15) / 16, 4);   // syssize
  put_le(f, 0x1fe, 0xaa55, 2);
  put_le(f, 0x200, 0x66eb, 2);                      // jmp over the header; header ends at 0x268
  put_le(f, 0x202, 0x53726448, 4);                  // HdrS
  put_le(f, 0x206, protocol, 2);
  put_le(f, 0x211, 0x01, 1);                        // LOADED_HIGH
  put_le(f, 0x22c, 0x7fffffff, 4);                  // initrd_addr_max
  put_le(f, 0x230, 0x200000, 4);                    // kernel_alignment
  put_le(f, 0x234, 1, 1);                           // relocatable
  put_le(f, 0x236, 0x1, 2);                         // XLF_KERNEL_64
  put_le(f, 0x238, 2047, 4);                        // cmdline_size
  put_le(f, 0x258, load_at, 8);                     // pref_address
  put_le(f, 0x260, 0x100000, 4);                    // init_size
  f.insert(f.end(), kernel.begin(), kernel.end());
  return f;
}

// The same around position-independent machine code entered at its first byte.
inline std::vector<std::uint8_t> synthetic_bzimage(std::vector<std::uint8_t> code) {
  code::Image img;
  img.bytes = std::move(code);
  img.code_size = img.bytes.size();
  return synthetic_bzimage(img);
}

}  // namespace crumble::test
