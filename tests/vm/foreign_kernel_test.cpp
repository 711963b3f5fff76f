// SPDX-License-Identifier: Apache-2.0
// Kernels for foreign guests (ARM64, RISC-V 64): the header checks per architecture, Debian's
// kernels fetched through an isolated apt configuration, and their modules' load order.
//
// Oracles: the boot documents' header offsets for hand-made Images (arm64/booting.rst,
// riscv/boot-image-header.rst), file(1) and binutils' readelf for the real kernels and modules,
// kmod's modinfo for every module's depends=, and the host's own dpkg and apt state, which must
// be as it was. Fetching needs the network to Debian's mirrors; without it the tests that need a
// real kernel print SKIPPED and exit 4.
#include <catch2/catch.hpp>
#include <crumble/vm/guest/kernel.hpp>
#include <crumble/vm/guest/modules.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using crumble::test::quote;
using crumble::test::ScratchDir;
using namespace crumble::vm;
using Catch::Matchers::Contains;

namespace {

using Bytes = std::vector<unsigned char>;

void put(Bytes& b, std::size_t at, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.at(at + static_cast<std::size_t>(i)) = static_cast<unsigned char>(v >> (8 * i));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// Runs a shell command; its stdout, and its exit status in `status`.
std::string shell(const std::string& cmd, int* status = nullptr) {
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int st = ::pclose(p);
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (status) *status = code;
  else {
    INFO("command: " << cmd);
    REQUIRE(code == 0);
  }
  return out;
}
void require_tool(const std::string& name, const std::string& package) {
  if (std::system(("command -v " + name + " > /dev/null 2>&1 || test -x /usr/sbin/" + name).c_str()) != 0) {
    std::printf("SKIPPED: %s not found (install %s: scripts/setup.sh)\n", name.c_str(), package.c_str());
    std::exit(4);
  }
}

// ARM64's Image header (booting.rst): code0/1, text_offset @8, image_size @16, flags @24 (bit 0:
// big-endian), reserved, magic "ARM\x64" @56, PE header offset @60.
Bytes arm64_image(std::size_t size = 4096) {
  Bytes b(size, 0);
  put(b, 16, size, 8);
  put(b, 24, 0x2, 8);  // little-endian, 4K pages
  put(b, 56, 0x644d5241, 4);
  return b;
}
// RISC-V's (boot-image-header.rst): the same shape; "RISCV\0\0\0" @48, "RSC\x05" @56.
Bytes riscv_image(std::size_t size = 4096) {
  Bytes b(size, 0);
  put(b, 16, size, 8);
  for (int i = 0; i < 5; ++i) b[48 + i] = static_cast<unsigned char>("RISCV"[i]);
  put(b, 56, 0x05435352, 4);
  return b;
}
// An Image that is also a PE file (the EFI stub) with one section of `raw` bytes at 0x1000.
Bytes arm64_pe_image(std::size_t file_size, std::uint32_t raw) {
  Bytes b = arm64_image(file_size);
  b[0] = 'M', b[1] = 'Z';
  put(b, 60, 0x40, 4);                  // PE header at 0x40
  b[0x40] = 'P', b[0x41] = 'E';
  put(b, 0x40 + 4, 0xaa64, 2);          // machine: ARM64
  put(b, 0x40 + 6, 1, 2);               // one section
  put(b, 0x40 + 20, 0x70, 2);           // optional header size
  const std::size_t sec = 0x40 + 24 + 0x70;
  put(b, sec + 16, raw, 4);             // SizeOfRawData
  put(b, sec + 20, 0x1000, 4);          // PointerToRawData
  return b;
}
Bytes elf(unsigned machine) {
  Bytes b(64, 0);
  b[0] = 0x7f, b[1] = 'E', b[2] = 'L', b[3] = 'F', b[4] = 2, b[5] = 1, b[6] = 1;
  put(b, 16, 3, 2);  // ET_DYN, as a relocatable arm64 vmlinux
  put(b, 18, machine, 2);
  return b;
}
// Enough of a bzImage for kernel_arch: boot sector signature and "HdrS".
Bytes bzimage_head() {
  Bytes b(0x400, 0);
  put(b, 0x1fe, 0xAA55, 2);
  for (int i = 0; i < 4; ++i) b[0x202 + i] = static_cast<unsigned char>("HdrS"[i]);
  return b;
}

}  // namespace

TEST_CASE("check_kernel_bytes per architecture: hand-made headers, one row each") {
  struct Row {
    const char* what;
    Bytes bytes;
    GuestArch arch;
    std::string expected;  // "image", "elf", or the error
  };
  Bytes big_endian = arm64_image();
  put(big_endian, 24, 0x3, 8);
  const std::vector<Row> rows = {
      {"arm64 Image", arm64_image(), GuestArch::arm64, "image"},
      {"arm64 Image with an EFI stub", arm64_pe_image(0x3000, 0x2000), GuestArch::arm64, "image"},
      {"riscv64 Image", riscv_image(), GuestArch::riscv64, "image"},
      {"arm64 vmlinux", elf(183), GuestArch::arm64, "elf"},
      {"riscv64 vmlinux", elf(243), GuestArch::riscv64, "elf"},
      {"arm64 Image cut short", arm64_pe_image(0x2800, 0x2000), GuestArch::arm64,
       "truncated ARM64 kernel Image: section 0 ends at 12288 bytes, file has 10240"},
      {"big-endian arm64", big_endian, GuestArch::arm64, "not a little-endian ARM64 kernel Image: header flags say big-endian"},
      {"arm64 for riscv64", arm64_image(), GuestArch::riscv64, "an ARM64 kernel Image, not a RISC-V 64 kernel (the guest is riscv64)"},
      {"riscv64 for arm64", riscv_image(), GuestArch::arm64, "a RISC-V 64 kernel Image, not an ARM64 kernel (the guest is arm64)"},
      {"arm64 for amd64", arm64_image(), GuestArch::amd64, "an ARM64 kernel Image, not an x86-64 kernel (the guest is amd64)"},
      {"bzImage for arm64", bzimage_head(), GuestArch::arm64, "an x86-64 bzImage, not an ARM64 kernel (the guest is arm64)"},
      {"x86-64 vmlinux for riscv64", elf(62), GuestArch::riscv64,
       "an ELF kernel for machine 62 (x86-64), not a RISC-V 64 kernel (the guest is riscv64)"},
      {"32-bit ARM vmlinux for arm64", elf(40), GuestArch::arm64, "not an ARM64 kernel: an ELF kernel for machine 40 (ARM)"},
      {"zeros", Bytes(4096, 0), GuestArch::arm64,
       "not an ARM64 kernel: not a Linux kernel this can tell (no bzImage, Image or ELF header)"},
      {"short", Bytes(10, 1), GuestArch::riscv64,
       "not a RISC-V 64 kernel: not a Linux kernel this can tell (no bzImage, Image or ELF header)"},
      {"empty", Bytes{}, GuestArch::arm64, "not a Linux kernel: file is empty"},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    if (r.expected == "image") CHECK(check_kernel_bytes(r.bytes, r.arch) == KernelFormat::image);
    else if (r.expected == "elf") CHECK(check_kernel_bytes(r.bytes, r.arch) == KernelFormat::elf);
    else {
      CHECK_THROWS_AS(check_kernel_bytes(r.bytes, r.arch), std::invalid_argument);
      CHECK(error_of([&] { check_kernel_bytes(r.bytes, r.arch); }) == r.expected);
    }
  }
}

TEST_CASE("kernel_arch reads the architecture from the header alone") {
  CHECK(kernel_arch(arm64_image()) == GuestArch::arm64);
  CHECK(kernel_arch(riscv_image()) == GuestArch::riscv64);
  CHECK(kernel_arch(bzimage_head()) == GuestArch::amd64);
  CHECK(kernel_arch(elf(62)) == GuestArch::amd64);
  CHECK(kernel_arch(elf(183)) == GuestArch::arm64);
  CHECK(kernel_arch(elf(243)) == GuestArch::riscv64);
  CHECK_FALSE(kernel_arch(elf(40)).has_value());
  CHECK_FALSE(kernel_arch(Bytes(64, 0)).has_value());
}

TEST_CASE("guest architecture names: ours, Debian's and uname's") {
  CHECK(parse_guest_arch("arm64") == GuestArch::arm64);
  CHECK(parse_guest_arch("aarch64") == GuestArch::arm64);
  CHECK(parse_guest_arch("riscv64") == GuestArch::riscv64);
  CHECK(parse_guest_arch("x86_64") == GuestArch::amd64);
  CHECK(error_of([] { parse_guest_arch("sparc64"); }) == "unknown guest architecture \"sparc64\": expected amd64, arm64 or riscv64");
}

namespace {

// The kernel of `arch` from the cache, fetched once per machine when absent; skipped (exit 4)
// when Debian cannot be reached.
GuestKernel foreign_kernel(GuestArch arch) {
  if (auto k = cached_kernel(arch)) return *k;
  try {
    return fetch_debian_kernel(arch, [](std::string_view s) { std::fprintf(stderr, "fetch: %.*s\n", int(s.size()), s.data()); });
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    for (const char* offline : {"Could not resolve", "Temporary failure resolving", "Unable to connect", "Could not connect",
                                "Network is unreachable", "Failed to fetch", "cannot run `apt"}) {
      if (m.find(offline) != std::string::npos) {
        std::printf("SKIPPED: no %s kernel in the cache and fetching Debian's failed (no network?):\n%s\n",
                    std::string(arch_info(arch).name).c_str(), m.c_str());
        std::exit(4);
      }
    }
    throw;
  }
}

// What of the host's apt and dpkg state a fetch could have changed: dpkg's foreign
// architectures, and the names of the host's package lists.
std::string host_apt_state() {
  return shell("dpkg --print-foreign-architectures; ls /var/lib/apt/lists/ 2>/dev/null | grep -v '^lock$' | grep -v '^partial$'");
}

}  // namespace

TEST_CASE("Debian's arm64 and riscv64 kernels: fetched with an isolated apt, each header's machine checked by file(1)") {
  require_tool("file", "file");
  const std::string before = host_apt_state();
  struct Row {
    GuestArch arch;
    const char* file_says;  // file(1)'s description, the independent oracle
    const char* suffix;     // the Debian flavour
  };
  for (const Row r : {Row{GuestArch::arm64, "Linux kernel ARM64 boot executable Image, little-endian", "-cloud-arm64"},
                      Row{GuestArch::riscv64, "RISC-V 64-bit", "-riscv64"}}) {
    INFO(arch_info(r.arch).name);
    const GuestKernel k = foreign_kernel(r.arch);
    CHECK(k.arch == r.arch);
    CHECK(k.version.ends_with(r.suffix));
    CHECK(k.image.parent_path().parent_path() == cache_dir() / "kernels" / std::string(arch_info(r.arch).name) / k.version);
    CHECK_THAT(shell("file -b " + quote(k.image.string())), Contains(r.file_says));
    CHECK(check_kernel_image(k.image, r.arch) == KernelFormat::image);
    CHECK(kernel_arch(read_kernel_file(k.image)) == r.arch);
    // A second fetch finds it in the cache (apt is asked only which version is current).
    std::vector<std::string> said;
    const GuestKernel again = fetch_debian_kernel(r.arch, [&](std::string_view s) { said.emplace_back(s); });
    CHECK(again.image == k.image);
    CHECK(std::none_of(said.begin(), said.end(), [](const std::string& s) { return s.starts_with("downloading"); }));
    // cached_kernel() of amd64 never returns it.
    if (auto amd = cached_kernel()) CHECK(amd->arch == GuestArch::amd64);
    if (auto amd = cached_kernel()) CHECK(amd->image.string().find(std::string(arch_info(r.arch).name) + "/") == std::string::npos);
  }
  CHECK(host_apt_state() == before);  // no foreign architecture added to dpkg, no list in the host's apt
}

TEST_CASE("a real kernel for the wrong architecture is refused naming what it is") {
  const GuestKernel arm = foreign_kernel(GuestArch::arm64);
  const GuestKernel rv = foreign_kernel(GuestArch::riscv64);
  CHECK(error_of([&] { check_kernel_image(arm.image, GuestArch::riscv64); }) ==
        "an ARM64 kernel Image, not a RISC-V 64 kernel (the guest is riscv64)");
  CHECK(error_of([&] { check_kernel_image(rv.image, GuestArch::arm64); }) ==
        "a RISC-V 64 kernel Image, not an ARM64 kernel (the guest is arm64)");
  CHECK(error_of([&] { check_kernel_image(arm.image, GuestArch::amd64); }) ==
        "an ARM64 kernel Image, not an x86-64 kernel (the guest is amd64)");
  if (auto amd = cached_kernel())
    CHECK(error_of([&] { check_kernel_image(amd->image, GuestArch::arm64); }) ==
          "an x86-64 bzImage, not an ARM64 kernel (the guest is arm64)");
}

TEST_CASE("foreign kernels' modules: load order from .modinfo, as modinfo says, decompressed for the guest's machine") {
  require_tool("modinfo", "kmod");
  require_tool("readelf", "binutils");
  struct Row {
    GuestArch arch;
    const char* readelf_machine;
  };
  for (const Row r : {Row{GuestArch::arm64, "AArch64"}, Row{GuestArch::riscv64, "RISC-V"}}) {
    INFO(arch_info(r.arch).name);
    const GuestKernel k = foreign_kernel(r.arch);
    ModuleIndex index(k.modules_dir);
    const std::vector<KernelModule> order = resolve_modules(index, {"virtio_blk", "virtio_net", "overlay"});
    std::map<std::string, std::size_t> at;
    for (std::size_t i = 0; i < order.size(); ++i) at[order[i].name] = i;
    for (const char* m : {"virtio_blk", "virtio_net", "overlay"}) CHECK(at.count(m) == 1);
    for (const KernelModule& m : order) {
      INFO(m.path);
      CHECK(m.path.extension() == ".ko");
      // modinfo reads the packaged file (compressed or not): the independent list of dependencies.
      const std::string packaged = fs::exists(m.path.string() + ".xz") ? m.path.string() + ".xz" : m.path.string();
      std::string deps = shell("/sbin/modinfo -F depends " + quote(packaged));
      while (!deps.empty() && (deps.back() == '\n' || deps.back() == ' ')) deps.pop_back();
      std::replace(deps.begin(), deps.end(), '-', '_');
      std::string ours;
      for (const std::string& d : m.depends) ours += (ours.empty() ? "" : ",") + d;
      CHECK(ours == deps);
      for (const std::string& d : m.depends) CHECK(at.at(d) < at.at(m.name));  // every dependency first
      CHECK_THAT(shell("readelf -h " + quote(m.path.string())), Contains(r.readelf_machine));
    }
  }
}

// Trixie's riscv64 kernel has fuse and virtiofs built in (bookworm's arm64 and amd64: modules), so
// a container VM's module list (container_boot_modules, container_device_drivers) resolves there
// without them. The oracle: each kernel's own config (=y built in, =m a module).
TEST_CASE("foreign kernels' built-in modules: left out of the load order as the kernel's config says, an unknown name still refused") {
  for (const GuestArch arch : {GuestArch::arm64, GuestArch::riscv64}) {
    INFO(arch_info(arch).name);
    const GuestKernel k = foreign_kernel(arch);
    const std::string config = shell("cat " + quote(k.image.parent_path().string()) + "/config-*");  // beside the kernel, in boot/
    REQUIRE_THAT(config, Contains("CONFIG_OVERLAY_FS="));
    ModuleIndex index(k.modules_dir);
    std::set<std::string> got;
    for (const KernelModule& m : resolve_modules(index, {"fuse", "virtiofs", "overlay"})) got.insert(m.name);
    struct Row {
      const char* module;
      const char* option;
    };
    for (const Row r : {Row{"fuse", "CONFIG_FUSE_FS"}, Row{"virtiofs", "CONFIG_VIRTIO_FS"}, Row{"overlay", "CONFIG_OVERLAY_FS"}}) {
      INFO(r.module);
      const bool built_in = config.find(std::string("\n") + r.option + "=y\n") != std::string::npos;
      CHECK(built_in == (config.find(std::string("\n") + r.option + "=m\n") == std::string::npos));
      CHECK(index.builtin(r.module) == built_in);
      CHECK(got.count(r.module) == (built_in ? 0u : 1u));
    }
    CHECK_THAT(error_of([&] { resolve_modules(index, {"no_such_module"}); }), Contains("kernel module no_such_module not found"));
  }
}

// libcrc32c (erofs's dependency) has `softdep: pre: crc32c`: its init asks the crypto API for
// crc32c and fails (ENOENT, as insmod reported in the riscv64 guest) without an implementation.
// Trixie's riscv64 kernel has it as a module (crc32c_generic, alias crc32c), bookworm's arm64 one
// built in (modules.builtin.modinfo: crc32c_generic.alias=crc32c). Oracles: modinfo, the configs.
TEST_CASE("foreign kernels' soft dependencies: libcrc32c's crc32c loaded first where it is a module, left out where built in") {
  require_tool("modinfo", "kmod");
  for (const GuestArch arch : {GuestArch::arm64, GuestArch::riscv64}) {
    INFO(arch_info(arch).name);
    const GuestKernel k = foreign_kernel(arch);
    const std::string config = shell("cat " + quote(k.image.parent_path().string()) + "/config-*");
    const bool module = config.find("\nCONFIG_CRYPTO_CRC32C=m\n") != std::string::npos;
    REQUIRE((module || config.find("\nCONFIG_CRYPTO_CRC32C=y\n") != std::string::npos));
    ModuleIndex index(k.modules_dir);
    const KernelModule* lib = index.find("libcrc32c");
    REQUIRE(lib != nullptr);
    CHECK(shell("/sbin/modinfo -F softdep " + quote(lib->path.string())) == "pre: crc32c\n");
    CHECK(lib->soft_pre == std::vector<std::string>{"crc32c"});
    CHECK(index.builtin("crc32c") == !module);
    std::vector<std::string> order;
    for (const KernelModule& m : resolve_modules(index, {"erofs"})) order.push_back(m.name);
    if (module) CHECK(order == std::vector<std::string>{"crc32c_generic", "libcrc32c", "erofs"});
    else CHECK(order == std::vector<std::string>{"libcrc32c", "erofs"});
  }
}

TEST_CASE("ModuleIndex: a .ko.xz that is not xz data is an error naming it, and .zst and .gz stay refused") {
  require_tool("xz", "xz-utils");
  ScratchDir d{"crumble-foreign-kernel"};
  fs::create_directories(d.path / "kernel");
  std::ofstream(d.path / "kernel" / "junk.ko.xz") << "not xz at all";
  ModuleIndex index(d.path);
  CHECK(index.size() == 1);
  CHECK_THAT(error_of([&] { index.find("junk"); }),
             Contains("cannot decompress kernel module " + (d.path / "kernel" / "junk.ko.xz").string()));
  CHECK_FALSE(fs::exists(d.path / "kernel" / "junk.ko"));  // no half-written module left
  for (const char* ext : {".ko.zst", ".ko.gz"}) {
    ScratchDir e{"crumble-foreign-kernel"};
    fs::create_directories(e.path / "kernel");
    std::ofstream(e.path / "kernel" / (std::string("virtio") + ext)) << "x";
    CHECK_THAT(error_of([&] { ModuleIndex i(e.path); }), Contains("compressed modules are not supported"));
  }
}

#ifdef CRUMBLE_CLI
TEST_CASE("crumble kernel path --arch: the cached kernel of that architecture, and an unknown one refused") {
  const GuestKernel arm = foreign_kernel(GuestArch::arm64);
  int status = -1;
  CHECK(shell(std::string(CRUMBLE_CLI) + " kernel path --arch arm64", &status) == arm.image.string() + "\n");
  CHECK(status == 0);
  CHECK(shell(std::string(CRUMBLE_CLI) + " kernel --arch aarch64 path", &status) == arm.image.string() + "\n");
  CHECK(status == 0);
  CHECK_THAT(shell(std::string(CRUMBLE_CLI) + " kernel path --arch sparc64 2>&1", &status), Contains("unknown guest architecture \"sparc64\""));
  CHECK(status == 2);
}
#endif
