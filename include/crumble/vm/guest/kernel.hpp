// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/kernel.hpp — the guest kernel: where it is cached, how it is fetched, how it is checked.
//
// A microVM boots Debian 12's cloud kernel (linux-image-<ver>-cloud-amd64: small, virtio drivers as
// modules). fetch_debian_kernel() gets it with the system's own apt, unprivileged where possible.
// Foreign guests (fetch_debian_kernel(GuestArch::arm64 / riscv64)) get bookworm's
// linux-image-<ver>-cloud-arm64 or trixie's linux-image-<ver>-riscv64 (riscv64 is a Debian
// architecture from trixie on) the same way, through an isolated apt configuration (IsolatedApt,
// debian_apt.hpp: its own sources, lists and cache under <cache>/apt/<arch>/, the host's dpkg and
// apt state never touched); they are kept under <cache>/kernels/<arch>/<ver>/.
// The steps:
//
//   1. resolve  `apt-cache depends linux-image-cloud-amd64` names the versioned package
//               (`apt-get update` first, only when apt-cache does not know the metapackage or,
//               for an isolated apt, when its lists are a day old; when apt cannot answer at
//               all, the newest kernel already cached is used);
//   2. reuse    <cache>/kernels/<ver>/ when it is there (it only ever appears complete, see 5);
//   3. download `apt-get download <pkg>` into a private temporary directory (apt checks the hash);
//   4. verify   `dpkg-deb --info` succeeds, its Package field is the one asked for, and
//               the file's size equals apt's Size field for that version;
//   5. unpack   `dpkg-deb -x` into the temporary directory, validate the image
//               (check_kernel_image for the architecture: a kernel of another one is refused
//               naming what it is) and the modules directory, then rename() it into place.
//               A crash leaves only a hidden `.partial-*` directory, never a half kernel under
//               its final name; stale ones are removed by a later fetch.
//
// Every child process runs through host/process.hpp's run_process: with a timeout (its whole
// process group is killed when it expires), LC_ALL=C, stdin from /dev/null. A failure throws
// std::runtime_error naming the command and the tail of its stderr.
//
// check_kernel_image() (kernel_image.hpp) reads the x86 boot protocol header
// (Documentation/arch/x86/boot.rst) or an ELF64 header, so a wrong or truncated file is refused
// with a message before any VM is made; extract_vmlinux (vmlinux.hpp) unpacks the ELF kernel
// inside a bzImage.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../host/cache_dir.hpp"
#include "../host/process.hpp"
#include "arch.hpp"
#include "debian_apt.hpp"
#include "kernel_image.hpp"
#include "vmlinux.hpp"

namespace crumble::vm {

namespace detail {

// Orders kernel versions such as "6.1.0-9-cloud-amd64" < "6.1.0-41-cloud-amd64": runs of
// digits compare as numbers, everything else byte by byte.
inline bool version_less(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie, j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

inline std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace detail

// A kernel in the cache (<cache>/kernels/<ver>/, cache_dir() from host/cache_dir.hpp).
struct GuestKernel {
  std::filesystem::path image;        // the bzImage (boot/vmlinuz-<ver>), or an ARM64/RISC-V Image (boot/vmlinu[zx]-<ver>)
  std::filesystem::path modules_dir;  // lib/modules/<ver>
  std::string version;                // e.g. 6.1.0-41-cloud-amd64
  GuestArch arch = GuestArch::amd64;
};

// ---------------------------------------------------------------------------------------------
// Fetching and finding kernels
// ---------------------------------------------------------------------------------------------
namespace detail {

inline constexpr std::string_view kernel_metapackage = "linux-image-cloud-amd64";
inline constexpr std::string_view kernel_prefix = "linux-image-";

// Where each architecture's kernel comes from: the metapackage naming the current version, the
// versioned packages' suffix, and for foreign architectures the Debian suite of an isolated apt
// (empty: the system's apt, as configured).
struct KernelSource {
  GuestArch arch;
  std::string_view metapackage;  // linux-image-cloud-arm64
  std::string_view suffix;       // -cloud-arm64: linux-image-<digit>...<suffix>
  std::string_view suite;        // bookworm, trixie; "" for the system's apt
};
inline constexpr KernelSource kernel_sources[] = {
    {GuestArch::amd64, kernel_metapackage, "-cloud-amd64", ""},
    {GuestArch::arm64, "linux-image-cloud-arm64", "-cloud-arm64", arch_info(GuestArch::arm64).debian_suite},
    {GuestArch::riscv64, "linux-image-riscv64", "-riscv64", arch_info(GuestArch::riscv64).debian_suite},  // no cloud flavour
};
constexpr const KernelSource& kernel_source(GuestArch a) {
  for (const KernelSource& k : kernel_sources)
    if (k.arch == a) return k;
  return kernel_sources[0];
}

// <cache>/kernels for amd64 (as before architectures), <cache>/kernels/<arch> for the others: the
// amd64 scan of <cache>/kernels skips those directories, which hold no boot/vmlinuz-<arch>.
inline std::filesystem::path kernels_dir(GuestArch a) {
  std::filesystem::path d = cache_dir() / "kernels";
  return a == GuestArch::amd64 ? d : d / std::string(arch_info(a).name);
}

// A complete kernel in <cache>/kernels/<ver>/ (as dpkg-deb -x left it): the image (vmlinuz, or
// vmlinux where the package names its uncompressed Image so: trixie's riscv64) and the modules
// directory (lib/modules, or usr/lib/modules in a usr-merged package: trixie's).
inline std::optional<GuestKernel> kernel_in(const std::filesystem::path& root, const std::string& version, GuestArch arch = GuestArch::amd64) {
  std::error_code ec;
  GuestKernel k{root / "boot" / ("vmlinuz-" + version), {}, version, arch};
  if (arch != GuestArch::amd64 && !std::filesystem::is_regular_file(k.image, ec)) k.image = root / "boot" / ("vmlinux-" + version);
  if (!std::filesystem::is_regular_file(k.image, ec)) return std::nullopt;
  for (const char* lib : {"lib/modules", "usr/lib/modules"}) {
    auto d = root / lib / version;
    if (std::filesystem::is_directory(d, ec)) {
      k.modules_dir = d;
      return k;
    }
  }
  return std::nullopt;
}

// The versioned package the metapackage depends on, or "" when apt-cache does not know it.
// `apt` is the command's first words with their options ({"apt-cache"} for the system's apt).
inline std::string resolve_kernel_package(const KernelSource& src, std::vector<std::string> argv) {
  argv.insert(argv.end(), {"depends", std::string(src.metapackage)});
  ProcessResult r = run_process(argv, std::chrono::seconds(60));
  if (r.status != 0) {
    // apt-cache says "E: No packages found" (exit 0 or 100, depending on the version) when the
    // lists do not have it; anything else is a real failure.
    if (r.err.find("No packages found") != std::string::npos || r.err.find("Unable to locate") != std::string::npos) return {};
    throw std::runtime_error(describe_failure(argv, "failed (exit status " + std::to_string(r.status) + ")", r.err));
  }
  std::size_t at = 0;
  while (at < r.out.size()) {
    std::size_t nl = r.out.find('\n', at);
    if (nl == std::string::npos) nl = r.out.size();
    std::string line = trim(std::string_view(r.out).substr(at, nl - at));
    at = nl + 1;
    if (line.starts_with("|")) line.erase(0, 1);
    if (!line.starts_with("Depends:")) continue;
    std::string pkg = trim(std::string_view(line).substr(8));
    if (pkg.starts_with(kernel_prefix) && pkg.ends_with(src.suffix) && pkg.size() > kernel_prefix.size() &&
        std::isdigit(static_cast<unsigned char>(pkg[kernel_prefix.size()])))
      return pkg;
  }
  if (r.out.find(src.metapackage) == std::string::npos) return {};
  throw std::runtime_error("`" + command_text(argv) + "` names no linux-image-<version>" + std::string(src.suffix) + " package:\n" +
                           tail_lines(r.out));
}
inline std::string resolve_kernel_package() { return resolve_kernel_package(kernel_sources[0], {"apt-cache"}); }

// apt's Size field for `pkg` at `version` (apt-cache show prints every known version).
inline std::uint64_t apt_size(const std::string& pkg, const std::string& version, std::vector<std::string> argv = {"apt-cache"}) {
  argv.insert(argv.end(), {"show", pkg});
  ProcessResult r = run_process_checked(argv, std::chrono::seconds(60));
  std::string cur_version, cur_size;
  auto finish = [&]() -> std::optional<std::uint64_t> {
    if (cur_version == version && !cur_size.empty()) return std::stoull(cur_size);
    cur_version.clear(), cur_size.clear();
    return std::nullopt;
  };
  std::size_t at = 0;
  while (at <= r.out.size()) {
    std::size_t nl = r.out.find('\n', at);
    if (nl == std::string::npos) nl = r.out.size();
    std::string_view line = std::string_view(r.out).substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) {
      if (auto s = finish()) return *s;
      if (nl == r.out.size()) break;
      continue;
    }
    if (line.starts_with("Version:")) cur_version = trim(line.substr(8));
    else if (line.starts_with("Size:")) cur_size = trim(line.substr(5));
  }
  if (auto s = finish()) return *s;
  throw std::runtime_error("`" + command_text(argv) + "` has no Size field for version " + version);
}

inline std::string field(const std::filesystem::path& deb, const char* name) {
  return trim(run_process_checked({"dpkg-deb", "--field", deb.string(), name}, std::chrono::seconds(60)).out);
}

// Removes `.partial-*` directories a crashed fetch left behind (older than a day, so a fetch
// running beside us keeps its own).
inline void remove_stale_partials(const std::filesystem::path& kernels) {
  std::error_code ec;
  auto now = std::filesystem::file_time_type::clock::now();
  for (auto it = std::filesystem::directory_iterator(kernels, ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (!it->path().filename().string().starts_with(".partial-")) continue;
    std::error_code e2;
    auto t = std::filesystem::last_write_time(it->path(), e2);
    if (!e2 && now - t > std::chrono::hours(24)) std::filesystem::remove_all(it->path(), e2);
  }
}

inline std::filesystem::path make_temp_dir(const std::filesystem::path& parent, const std::string& stem) {
  std::string tmpl = (parent / (".partial-" + stem + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) {
    throw std::runtime_error("cannot create a temporary directory in " + parent.string() + ": " + std::strerror(errno));
  }
  return tmpl;
}


}  // namespace detail

// The newest complete kernel of `arch` in the cache (<cache>/kernels/ for amd64,
// <cache>/kernels/<arch>/ for the others), or none.
inline std::optional<GuestKernel> cached_kernel(GuestArch arch = GuestArch::amd64) {
  std::filesystem::path kernels = detail::kernels_dir(arch);
  std::error_code ec;
  std::optional<GuestKernel> best;
  for (auto it = std::filesystem::directory_iterator(kernels, ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    auto k = detail::kernel_in(it->path(), name, arch);
    if (k && (!best || detail::version_less(best->version, k->version))) best = std::move(k);
  }
  return best;
}

// Debian's kernel for `arch` (the top of this file), fetched once and kept under
// <cache>/kernels/[<arch>/]<version>/. `progress`, when given, gets one line per step.
inline GuestKernel fetch_debian_kernel(GuestArch arch, std::function<void(std::string_view)> progress = {}) {
  using namespace std::chrono_literals;
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const detail::KernelSource& src = detail::kernel_source(arch);
  const std::string meta(src.metapackage);
  const std::filesystem::path kernels = detail::kernels_dir(arch);
  // The system's apt for amd64; an isolated one for the others.
  std::optional<IsolatedApt> isolated;
  auto apt = [&](const char* tool) { return isolated ? isolated->command(tool) : std::vector<std::string>{tool}; };

  std::string pkg;
  try {
    if (arch != GuestArch::amd64) isolated.emplace(arch, src.suite);
    auto update = [&] {
      std::vector<std::string> argv = apt("apt-get");
      argv.insert(argv.end(), {"update", "-q"});
      run_process_checked(argv, 600s);
    };
    if (isolated && isolated->lists_stale()) {
      say("updating the " + std::string(arch_info(arch).name) + " package lists of Debian " + std::string(src.suite) + " (apt-get update, lists in " +
          (isolated->root() / "lists").string() + ")...");
      update();
    }
    say("resolving " + meta + " (apt-cache depends)...");
    pkg = detail::resolve_kernel_package(src, apt("apt-cache"));
    if (pkg.empty()) {
      say("apt-cache does not know " + meta + ": running apt-get update...");
      update();
      pkg = detail::resolve_kernel_package(src, apt("apt-cache"));
      if (pkg.empty()) {
        throw std::runtime_error("apt knows no package " + meta + " even after `apt-get update`" +
                                 (isolated ? std::string(": is Debian ") + std::string(src.suite) + " reachable?"
                                           : std::string(": is this Debian 12 (bookworm) with the main component?")));
      }
    }
  } catch (const std::runtime_error& e) {
    // No apt, no network for the update, or not root for it: a kernel fetched before will do.
    if (auto k = cached_kernel(arch)) {
      say("cannot ask apt which kernel is current; using the cached " + k->version + " (" + e.what() + ")");
      say("kernel ready: " + k->image.string());
      return *k;
    }
    throw;
  }
  const std::string version = pkg.substr(detail::kernel_prefix.size());
  const std::filesystem::path final_dir = kernels / version;
  if (auto k = detail::kernel_in(final_dir, version, arch)) {
    say("found in cache: " + final_dir.string());
    say("kernel ready: " + k->image.string());
    return *k;
  }

  std::error_code ec;
  std::filesystem::create_directories(kernels, ec);
  if (ec) throw std::runtime_error("cannot create " + kernels.string() + ": " + ec.message());
  detail::remove_stale_partials(kernels);
  const std::filesystem::path tmp = detail::make_temp_dir(kernels, version);
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code e;
      if (!p.empty()) std::filesystem::remove_all(p, e);
    }
  } cleanup{tmp};

  // Download into tmp/deb, unpack into tmp/root, rename tmp/root to the final name.
  const std::filesystem::path deb_dir = tmp / "deb", root = tmp / "root";
  std::filesystem::create_directories(deb_dir, ec);
  if (ec) throw std::runtime_error("cannot create " + deb_dir.string() + ": " + ec.message());
  say("downloading " + pkg + " (apt-get download)...");
  {
    std::vector<std::string> argv = apt("apt-get");
    argv.insert(argv.end(), {"download", "-q", pkg});
    run_process_checked(argv, 900s, deb_dir);
  }
  std::filesystem::path deb;
  for (auto& e : std::filesystem::directory_iterator(deb_dir)) {
    if (e.path().extension() == ".deb") {
      if (!deb.empty()) throw std::runtime_error("`apt-get download " + pkg + "` left more than one .deb in " + deb_dir.string());
      deb = e.path();
    }
  }
  if (deb.empty()) throw std::runtime_error("`apt-get download " + pkg + "` succeeded but left no .deb in " + deb_dir.string());

  say("verifying " + deb.filename().string() + "...");
  run_process_checked({"dpkg-deb", "--info", deb.string()}, 60s);
  const std::string got_pkg = detail::field(deb, "Package"), deb_version = detail::field(deb, "Version");
  if (got_pkg != pkg) throw std::runtime_error(deb.string() + " is package " + got_pkg + ", expected " + pkg);
  if (const std::string deb_arch = detail::field(deb, "Architecture"); deb_arch != arch_info(arch).name)
    throw std::runtime_error(deb.string() + " is for architecture " + deb_arch + ", expected " + std::string(arch_info(arch).name));
  const std::uint64_t expected = detail::apt_size(pkg, deb_version, apt("apt-cache")), actual = std::filesystem::file_size(deb);
  if (expected != actual) {
    throw std::runtime_error(deb.string() + " has " + std::to_string(actual) + " bytes, apt's Size field for " + pkg +
                             " " + deb_version + " says " + std::to_string(expected));
  }

  say("unpacking...");
  run_process_checked({"dpkg-deb", "-x", deb.string(), root.string()}, 600s);
  std::filesystem::remove_all(deb_dir, ec);  // the package is not kept, only what it holds
  auto k = detail::kernel_in(root, version, arch);
  if (!k) {
    throw std::runtime_error(pkg + " unpacked without boot/vmlinu[zx]-" + version + " or lib/modules/" + version);
  }
  const KernelFormat want = arch == GuestArch::amd64 ? KernelFormat::bzimage : KernelFormat::image;
  if (check_kernel_image(k->image, arch) != want) {
    throw std::runtime_error(k->image.string() + (arch == GuestArch::amd64 ? " is not a bzImage" : " is not a kernel Image"));
  }

  if (std::filesystem::rename(root, final_dir, ec); ec) {
    // Another fetch may have finished first: theirs is as good as ours.
    if (auto other = detail::kernel_in(final_dir, version, arch)) {
      say("kernel ready: " + other->image.string());
      return *other;
    }
    throw std::runtime_error("cannot rename " + root.string() + " to " + final_dir.string() + ": " + ec.message());
  }
  auto done = detail::kernel_in(final_dir, version, arch);
  if (!done) throw std::runtime_error("kernel vanished from " + final_dir.string() + " after it was moved there");
  say("kernel ready: " + done->image.string());
  return *done;
}

// Debian 12's cloud kernel for amd64 guests.
inline GuestKernel fetch_debian_kernel(std::function<void(std::string_view)> progress = {}) {
  return fetch_debian_kernel(GuestArch::amd64, std::move(progress));
}

}  // namespace crumble::vm
