// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/debian_apt.hpp — Debian packages for foreign guest architectures, from this
// host, without touching it: IsolatedApt runs the system's apt-get and apt-cache with options that
// give them their own sources, lists and cache (under <cache>/apt/<arch>/) and the guest's
// architecture alone. kernel.hpp fetches kernels through it; foreign_busybox() here fetches the
// guest's userland (busybox-static for that architecture) into <cache>/packages/<arch>/.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../host/cache_dir.hpp"
#include "../host/process.hpp"
#include "arch.hpp"

namespace crumble::vm {

// apt for a foreign architecture, kept apart from the host's: every command gets options that
// point apt at our own sources list, lists and package cache under <cache>/apt/<arch>/ (the
// host's sources.list.d and preferences are replaced by empty directories of ours, the dpkg status
// by /dev/null, so the host's installed packages do not enter the resolution), and apt's
// architecture set to the guest's alone. Nothing of the host's apt or dpkg state is written: not
// its lists, not its cache, not dpkg's architectures. The archive's signatures are checked against
// Debian's keyring (debian-archive-keyring), as the host's apt does.
class IsolatedApt {
 public:
  static constexpr std::string_view mirror = "http://deb.debian.org/debian";
  static constexpr std::string_view security_mirror = "http://deb.debian.org/debian-security";
  static constexpr std::string_view keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";

  IsolatedApt(GuestArch arch, std::string_view suite) : arch_(arch), root_(cache_dir() / "apt" / std::string(arch_info(arch).name)) {
    std::error_code ec;
    for (const char* d : {"lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"}) {
      std::filesystem::create_directories(root_ / d, ec);
      if (ec) throw std::runtime_error("cannot create " + (root_ / d).string() + ": " + ec.message());
    }
    if (!std::filesystem::is_regular_file(keyring, ec))
      throw std::runtime_error(std::string(keyring) + " is missing: install Debian's archive keyring (apt-get install debian-archive-keyring)");
    // The suite's main, its updates, and its security archive (where kernel updates appear first).
    const std::string a = std::string(arch_info(arch).name), opts = "[arch=" + a + " signed-by=" + std::string(keyring) + "]";
    const std::string text = "# written by crumble for " + a + " guest kernels; replaced on every fetch\n" + "deb " + opts + " " +
                             std::string(mirror) + " " + std::string(suite) + " main\n" + "deb " + opts + " " + std::string(mirror) + " " +
                             std::string(suite) + "-updates main\n" + "deb " + opts + " " + std::string(security_mirror) + " " +
                             std::string(suite) + "-security main\n";
    write_whole(root_ / "sources.list", text);
  }

  // The options every apt command gets; `tool` is apt-get or apt-cache.
  std::vector<std::string> command(const std::string& tool) const {
    const std::string a = std::string(arch_info(arch_).name);
    std::vector<std::string> argv = {tool,
                                     "-o", "APT::Architecture=" + a,
                                     "-o", "APT::Architectures::=" + a,
                                     "-o", "Dir::State::Lists=" + (root_ / "lists").string(),
                                     "-o", "Dir::State::status=/dev/null",
                                     "-o", "Dir::Cache=" + (root_ / "cache").string(),
                                     "-o", "Dir::Etc::SourceList=" + (root_ / "sources.list").string(),
                                     "-o", "Dir::Etc::SourceParts=" + (root_ / "sources.list.d").string(),
                                     "-o", "Dir::Etc::Preferences=" + (root_ / "preferences").string(),
                                     "-o", "Dir::Etc::PreferencesParts=" + (root_ / "preferences.d").string()};
    // As root apt downloads as the user _apt, who cannot enter the caller's cache directory.
    if (::geteuid() == 0) argv.insert(argv.end(), {"-o", "APT::Sandbox::User=root"});
    return argv;
  }

  // True when the lists are missing or more than a day old (a kernel they name may have left the
  // mirror since).
  bool lists_stale() const {
    std::error_code ec;
    auto newest = std::filesystem::file_time_type::min();
    for (auto it = std::filesystem::directory_iterator(root_ / "lists", ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      if (it->path().filename().string().find("_Packages") != std::string::npos) newest = std::max(newest, it->last_write_time());
    return newest == std::filesystem::file_time_type::min() || std::filesystem::file_time_type::clock::now() - newest > std::chrono::hours(24);
  }
  const std::filesystem::path& root() const { return root_; }

 private:
  static void write_whole(const std::filesystem::path& p, const std::string& text) {
    const std::filesystem::path tmp = p.string() + ".tmp-" + std::to_string(::getpid());  // a fetch beside us writes its own
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
    }
    std::error_code ec;
    std::filesystem::rename(tmp, p, ec);
    if (ec) throw std::runtime_error("cannot write " + p.string() + ": " + ec.message());
  }

  GuestArch arch_;
  std::filesystem::path root_;
};

namespace detail {
inline std::string deb_field(const std::filesystem::path& deb, const char* name) {
  std::string v = run_process_checked({"dpkg-deb", "--field", deb.string(), name}, std::chrono::seconds(60)).out;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}
}  // namespace detail

// A static busybox for guests of `arch`: the host's /bin/busybox for amd64 (busybox-static); for
// the others Debian's busybox-static of that architecture (from the arch's suite, guest/arch.hpp),
// downloaded once through IsolatedApt and kept at <cache>/packages/<arch>/busybox-static_<version>/
// [usr/]bin/busybox. While the lists are fresh (IsolatedApt::lists_stale) a cached one is used without
// asking apt; when apt cannot be reached, any cached one is. Throws std::runtime_error naming the
// command that failed.
inline std::filesystem::path foreign_busybox(GuestArch arch) {
  using namespace std::chrono_literals;
  if (arch == GuestArch::amd64) return "/bin/busybox";
  const std::string a(arch_info(arch).name);
  const std::filesystem::path dir = cache_dir() / "packages" / a;
  auto newest_cached = [&]() -> std::optional<std::filesystem::path> {
    std::error_code ec;
    std::optional<std::filesystem::path> best;
    for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.starts_with("busybox-static_")) continue;
      for (const char* at : {"bin/busybox", "usr/bin/busybox"}) {  // trixie's package is usr-merged
        const std::filesystem::path bin = it->path() / at;
        if (std::filesystem::is_regular_file(bin, ec) && (!best || best->string() < bin.string())) best = bin;
      }
    }
    return best;
  };
  std::optional<IsolatedApt> apt;
  try {
    apt.emplace(arch, arch_info(arch).debian_suite);
    if (!apt->lists_stale())
      if (auto cached = newest_cached()) return *cached;
    if (apt->lists_stale()) {
      std::vector<std::string> update = apt->command("apt-get");
      update.insert(update.end(), {"update", "-q"});
      run_process_checked(update, 600s);
    }
  } catch (const std::runtime_error&) {
    if (auto cached = newest_cached()) return *cached;
    throw;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  // Unpacked beside its final place (one file system: the rename is atomic), removed on the way out.
  std::string tmpl = (dir / ".partial-busybox-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory in " + dir.string());
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code e;
      std::filesystem::remove_all(p, e);
    }
  } tmp{tmpl};
  std::vector<std::string> download = apt->command("apt-get");
  download.insert(download.end(), {"download", "-q", "busybox-static"});
  run_process_checked(download, 600s, tmp.p);
  std::filesystem::path deb;
  for (auto& e : std::filesystem::directory_iterator(tmp.p))
    if (e.path().extension() == ".deb") deb = e.path();
  if (deb.empty()) throw std::runtime_error("`apt-get download busybox-static` for " + a + " left no .deb");
  if (detail::deb_field(deb, "Package") != "busybox-static" || detail::deb_field(deb, "Architecture") != a)
    throw std::runtime_error(deb.string() + " is not busybox-static for " + a);
  const std::string version = detail::deb_field(deb, "Version");
  const std::filesystem::path root = tmp.p / "root";
  run_process_checked({"dpkg-deb", "-x", deb.string(), root.string()}, 120s);
  const char* at = std::filesystem::is_regular_file(root / "bin" / "busybox", ec) ? "bin/busybox" : "usr/bin/busybox";
  if (!std::filesystem::is_regular_file(root / at, ec)) throw std::runtime_error(deb.string() + " unpacked without bin/busybox or usr/bin/busybox");
  const std::filesystem::path final_dir = dir / ("busybox-static_" + version);
  std::filesystem::rename(root, final_dir, ec);  // atomic; a concurrent fetch's copy is as good
  const std::filesystem::path bin = final_dir / at;
  if (!std::filesystem::is_regular_file(bin)) throw std::runtime_error("cannot move busybox-static into " + final_dir.string());
  return bin;
}

}  // namespace crumble::vm
