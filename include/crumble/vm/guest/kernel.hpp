// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/kernel.hpp — the guest kernel: where it is cached, how it is fetched, how it is checked.
//
// A microVM boots Debian 12's cloud kernel (linux-image-<ver>-cloud-amd64: small, virtio drivers as
// modules). fetch_debian_kernel() gets it with the system's own apt, unprivileged where possible:
//
//   1. resolve  `apt-cache depends linux-image-cloud-amd64` names the versioned package
//               (`apt-get update` first, only when apt-cache does not know the metapackage;
//               when apt cannot answer at all, the newest kernel already cached is used);
//   2. reuse    <cache>/kernels/<ver>/ when it is there (it only ever appears complete, see 5);
//   3. download `apt-get download <pkg>` into a private temporary directory (apt checks the hash);
//   4. verify   `dpkg-deb --info` succeeds, its Package field is the one asked for, and
//               the file's size equals apt's Size field for that version;
//   5. unpack   `dpkg-deb -x` into the temporary directory, validate the image
//               (check_kernel_image) and the modules directory, then rename() it into place.
//               A crash leaves only a hidden `.partial-*` directory, never a half kernel under
//               its final name; stale ones are removed by a later fetch.
//
// Every child process runs with a timeout (its whole process group is killed when it expires),
// LC_ALL=C, stdin from /dev/null. A failure throws std::runtime_error naming the command and the
// tail of its stderr.
//
// check_kernel_image() reads the x86 boot protocol header (Documentation/arch/x86/boot.rst) or an
// ELF64 header, so a wrong or truncated file is refused with a message before any VM is made.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "kernel_image.hpp"

extern char** environ;

namespace crumble::vm {

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------
namespace detail {

struct CommandResult {
  int status = -1;  // exit status; -1 when killed by a signal
  int signal = 0;   // the signal that killed it
  std::string out, err;
};

inline std::string command_text(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// The last few lines of a child's stderr (at most ~1500 characters), for an error message.
inline std::string tail(std::string_view s, std::size_t max_lines = 8, std::size_t max_chars = 1500) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  std::size_t from = s.size();
  for (std::size_t lines = 0; from > 0 && lines < max_lines; ++lines) {
    std::size_t nl = s.rfind('\n', from - 1);
    from = nl == std::string_view::npos ? 0 : nl;
  }
  if (from > 0) ++from;  // past the newline that ends the line before
  s.remove_prefix(from);
  if (s.size() > max_chars) s.remove_prefix(s.size() - max_chars);
  return std::string(s);
}

inline std::string describe_failure(const std::vector<std::string>& argv, const std::string& what,
                                    const std::string& err) {
  std::string m = "`" + command_text(argv) + "` " + what;
  std::string t = tail(err);
  if (!t.empty()) m += ":\n" + t;
  return m;
}

// Runs argv (looked up in PATH) in `cwd` (empty: ours), stdout and stderr captured, stdin from
// /dev/null, LC_ALL=C. Past `timeout` the child's process group gets SIGKILL and this throws.
// Failing to start it throws too ("cannot run X: reason"); a non-zero exit is returned.
inline CommandResult run_command(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                                 const std::filesystem::path& cwd = {}) {
  if (argv.empty()) throw std::logic_error("run_command: empty argv");
  // Everything the child needs is built before fork(): afterwards only async-signal-safe calls.
  std::vector<std::string> env_s;
  for (char** e = environ; e && *e; ++e) {
    std::string_view v(*e);
    if (v.starts_with("LC_ALL=") || v.starts_with("LANGUAGE=")) continue;
    env_s.emplace_back(v);
  }
  env_s.emplace_back("LC_ALL=C");
  std::vector<char*> envp, args;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_s = argv;
  for (auto& s : argv_s) args.push_back(s.data());
  args.push_back(nullptr);
  std::string cwd_s = cwd.string();

  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + std::string(std::strerror(errno)));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out_pipe[0]), ::close(out_pipe[1]);
    throw std::runtime_error("pipe2: " + std::string(std::strerror(e)));
  }
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {  // carries errno from a failed chdir/exec
    int e = errno;
    ::close(out_pipe[0]), ::close(out_pipe[1]), ::close(err_pipe[0]), ::close(err_pipe[1]);
    throw std::runtime_error("pipe2: " + std::string(std::strerror(e)));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], exec_pipe[0], exec_pipe[1]}) ::close(fd);
    throw std::runtime_error("fork: " + std::string(std::strerror(e)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group, so a timeout kills apt's helpers too
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    int stage = 0;
    if (!cwd_s.empty() && ::chdir(cwd_s.c_str()) != 0) stage = 1;
    if (stage == 0) ::execvpe(args[0], args.data(), envp.data());
    int report[2] = {stage, errno};
    ssize_t ignored = ::write(exec_pipe[1], report, sizeof report);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);

  CommandResult r;
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char chunk[8192];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(chunk, static_cast<std::size_t>(got));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  if (timed_out) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
  int wstatus = 0;
  for (;;) {  // stdout/stderr closed: the child is exiting; still bounded by the deadline
    pid_t w = ::waitpid(pid, &wstatus, timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    if (clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
      continue;
    }
    ::usleep(2000);
  }
  int report[2] = {0, 0};
  ssize_t got = ::read(exec_pipe[0], report, sizeof report);
  ::close(exec_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof report)) {
    throw std::runtime_error("cannot run `" + command_text(argv) + "`: " +
                             (report[0] == 1 ? "chdir to " + cwd_s + ": " : std::string()) +
                             std::strerror(report[1]));
  }
  if (timed_out) {
    throw std::runtime_error(describe_failure(
        argv, "timed out after " + std::to_string(timeout.count()) + " s (killed)", r.err));
  }
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  r.signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
  return r;
}

// run_command, and a non-zero exit is an error too.
inline CommandResult run_checked(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                                 const std::filesystem::path& cwd = {}) {
  CommandResult r = run_command(argv, timeout, cwd);
  if (r.status != 0) {
    throw std::runtime_error(describe_failure(
        argv, r.status < 0 ? "was killed by signal " + std::to_string(r.signal) : "failed (exit status " + std::to_string(r.status) + ")",
        r.err.empty() ? r.out : r.err));
  }
  return r;
}

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

// ---------------------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------------------


struct GuestKernel {
  std::filesystem::path image;        // the bzImage (boot/vmlinuz-<ver>)
  std::filesystem::path modules_dir;  // lib/modules/<ver>
  std::string version;                // e.g. 6.1.0-41-cloud-amd64
};


// ---------------------------------------------------------------------------------------------
// Fetching and finding kernels
// ---------------------------------------------------------------------------------------------
namespace detail {

inline constexpr std::string_view kernel_metapackage = "linux-image-cloud-amd64";
inline constexpr std::string_view kernel_prefix = "linux-image-";

// A complete kernel in <cache>/kernels/<ver>/ (as dpkg-deb -x left it): the image and the
// modules directory (lib/modules, or usr/lib/modules should a future package be usr-merged).
inline std::optional<GuestKernel> kernel_in(const std::filesystem::path& root, const std::string& version) {
  std::error_code ec;
  GuestKernel k{root / "boot" / ("vmlinuz-" + version), {}, version};
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
inline std::string resolve_kernel_package() {
  std::vector<std::string> argv = {"apt-cache", "depends", std::string(kernel_metapackage)};
  CommandResult r = run_command(argv, std::chrono::seconds(60));
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
    if (pkg.starts_with(kernel_prefix) && pkg.ends_with("-cloud-amd64") && pkg.size() > kernel_prefix.size() &&
        std::isdigit(static_cast<unsigned char>(pkg[kernel_prefix.size()])))
      return pkg;
  }
  if (r.out.find(kernel_metapackage) == std::string::npos) return {};
  throw std::runtime_error("`" + command_text(argv) + "` names no linux-image-<version>-cloud-amd64 package:\n" + tail(r.out));
}

// apt's Size field for `pkg` at `version` (apt-cache show prints every known version).
inline std::uint64_t apt_size(const std::string& pkg, const std::string& version) {
  std::vector<std::string> argv = {"apt-cache", "show", pkg};
  CommandResult r = run_checked(argv, std::chrono::seconds(60));
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
  return trim(run_checked({"dpkg-deb", "--field", deb.string(), name}, std::chrono::seconds(60)).out);
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

// The newest complete kernel under <cache>/kernels/, or none.
// The uncompressed ELF vmlinux inside a bzImage, for engines that enter the kernel at its 64-bit
// entry without running the bzImage's own decompressor (which is slow where kernel-mode code is
// emulated). Finds the first compressed stream the kernel can use (LZ4, zstd, xz, gzip, ... by
// magic), decompresses it with the matching Debian tool (lz4, zstd, xz, gzip; a trailing
// appendix makes them complain, which is fine) into `out`, and checks the result is an x86-64
// ELF. Kept: a second call with the same `out` returns at once.
inline std::filesystem::path extract_vmlinux(const std::filesystem::path& image, const std::filesystem::path& out) {
  namespace fs = std::filesystem;
  auto is_elf = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    unsigned char h[20] = {};
    in.read(reinterpret_cast<char*>(h), sizeof h);
    return in.gcount() == sizeof h && h[0] == 0x7f && h[1] == 'E' && h[2] == 'L' && h[3] == 'F' && h[4] == 2 && h[18] == 62;
  };
  if (fs::exists(out) && is_elf(out)) return out;
  std::ifstream in(image, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.empty()) throw std::runtime_error("cannot read " + image.string());
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
    detail::run_command(argv, std::chrono::seconds(120));
    if (is_elf(tmp) && fs::file_size(tmp) > (1 << 20)) {
      fs::rename(tmp, out);
      return out;
    }
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  throw std::runtime_error("no compressed x86-64 vmlinux found in " + image.string() + " (tried lz4, zstd, xz, gzip streams)");
}

inline std::optional<GuestKernel> cached_kernel() {
  std::filesystem::path kernels = cache_dir() / "kernels";
  std::error_code ec;
  std::optional<GuestKernel> best;
  for (auto it = std::filesystem::directory_iterator(kernels, ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    auto k = detail::kernel_in(it->path(), name);
    if (k && (!best || detail::version_less(best->version, k->version))) best = std::move(k);
  }
  return best;
}

// Debian 12's cloud kernel, fetched once and kept under <cache>/kernels/<version>/ (see the top of
// this file). `progress`, when given, gets one line per step.
inline GuestKernel fetch_debian_kernel(std::function<void(std::string_view)> progress = {}) {
  using namespace std::chrono_literals;
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const std::filesystem::path kernels = cache_dir() / "kernels";

  std::string pkg;
  try {
    say("resolving " + std::string(detail::kernel_metapackage) + " (apt-cache depends)...");
    pkg = detail::resolve_kernel_package();
    if (pkg.empty()) {
      say("apt-cache does not know " + std::string(detail::kernel_metapackage) + ": running apt-get update...");
      detail::run_checked({"apt-get", "update", "-q"}, 600s);
      pkg = detail::resolve_kernel_package();
      if (pkg.empty()) {
        throw std::runtime_error("apt knows no package " + std::string(detail::kernel_metapackage) +
                                 " even after `apt-get update`: is this Debian 12 (bookworm) with the main component?");
      }
    }
  } catch (const std::runtime_error& e) {
    // No apt, no network for the update, or not root for it: a kernel fetched before will do.
    if (auto k = cached_kernel()) {
      say("cannot ask apt which kernel is current; using the cached " + k->version + " (" + e.what() + ")");
      say("kernel ready: " + k->image.string());
      return *k;
    }
    throw;
  }
  const std::string version = pkg.substr(detail::kernel_prefix.size());
  const std::filesystem::path final_dir = kernels / version;
  if (auto k = detail::kernel_in(final_dir, version)) {
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
  detail::run_checked({"apt-get", "download", "-q", pkg}, 900s, deb_dir);
  std::filesystem::path deb;
  for (auto& e : std::filesystem::directory_iterator(deb_dir)) {
    if (e.path().extension() == ".deb") {
      if (!deb.empty()) throw std::runtime_error("`apt-get download " + pkg + "` left more than one .deb in " + deb_dir.string());
      deb = e.path();
    }
  }
  if (deb.empty()) throw std::runtime_error("`apt-get download " + pkg + "` succeeded but left no .deb in " + deb_dir.string());

  say("verifying " + deb.filename().string() + "...");
  detail::run_checked({"dpkg-deb", "--info", deb.string()}, 60s);
  const std::string got_pkg = detail::field(deb, "Package"), deb_version = detail::field(deb, "Version");
  if (got_pkg != pkg) throw std::runtime_error(deb.string() + " is package " + got_pkg + ", expected " + pkg);
  const std::uint64_t expected = detail::apt_size(pkg, deb_version), actual = std::filesystem::file_size(deb);
  if (expected != actual) {
    throw std::runtime_error(deb.string() + " has " + std::to_string(actual) + " bytes, apt's Size field for " + pkg +
                             " " + deb_version + " says " + std::to_string(expected));
  }

  say("unpacking...");
  detail::run_checked({"dpkg-deb", "-x", deb.string(), root.string()}, 600s);
  std::filesystem::remove_all(deb_dir, ec);  // the package is not kept, only what it holds
  auto k = detail::kernel_in(root, version);
  if (!k) {
    throw std::runtime_error(pkg + " unpacked without boot/vmlinuz-" + version + " or lib/modules/" + version);
  }
  if (check_kernel_image(k->image) != KernelFormat::bzimage) {
    throw std::runtime_error(k->image.string() + " is not a bzImage");
  }

  if (std::filesystem::rename(root, final_dir, ec); ec) {
    // Another fetch may have finished first: theirs is as good as ours.
    if (auto other = detail::kernel_in(final_dir, version)) {
      say("kernel ready: " + other->image.string());
      return *other;
    }
    throw std::runtime_error("cannot rename " + root.string() + " to " + final_dir.string() + ": " + ec.message());
  }
  auto done = detail::kernel_in(final_dir, version);
  if (!done) throw std::runtime_error("kernel vanished from " + final_dir.string() + " after it was moved there");
  say("kernel ready: " + done->image.string());
  return *done;
}

}  // namespace crumble::vm
