// crumble/vm/guest.hpp — what every engine needs to start a Linux guest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crumble::vm {

struct GuestOptions {
  std::filesystem::path kernel;         // bzImage or vmlinux
  std::vector<std::uint8_t> initramfs;  // newc cpio
  std::uint32_t memory_mib = 256;
  int vcpus = 1;
  std::string append;                   // added to the kernel command line
};

}  // namespace crumble::vm
