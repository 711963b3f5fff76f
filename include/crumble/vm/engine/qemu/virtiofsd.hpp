// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/qemu/virtiofsd.hpp — the file server behind one virtio-fs share: QEMU 7.2's C
// virtiofsd (vhost-user back end), one process per share, started before QEMU and stopped with it.
//
// It runs in a private mount namespace (util-linux `unshare --mount`, propagation private) where
// the share's host directory is bind-mounted onto a directory of ours, read-only for a read-only
// share. The guest is untrusted: its own mount flags (`-o ro`, then `remount,rw`) decide nothing,
// since 7.2's virtiofsd has no read-only option; the kernel refuses its writes (EROFS) on the
// host. The bind mount also keeps the host path out of virtiofsd's comma-separated `-o` options:
// virtiofsd is told our mount point (in the machine's directory, escaped for its option parser)
// and QEMU only the socket's name relative to that directory ("fs0.sock"); the host path travels
// as one argv element, never through a shell's parser.
//
// Cache mode: `cache=auto` (virtiofsd's default). Guest writes still reach the host at write()
// (no writeback cache: virtiofsd's default no_writeback), so a file written in the guest is on the
// host when the command returns; file data and attributes are cached in the guest for virtiofsd's
// 1 s timeout and revalidated at open, so reads of a large file are not a round trip per page as
// with cache=none (which also turns off readdirplus). A host-side change is seen within a second
// or at the next open — the trade Docker Desktop and Kata make for volumes too.
#pragma once

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

#include "../../errors.hpp"
#include "../../host/process.hpp"
#include "../options.hpp"

namespace crumble::vm {

inline constexpr const char* default_virtiofsd = "/usr/lib/qemu/virtiofsd";

// A share's subdir is one file name (the script below makes it in our mount point).
inline void check_share_subdir(const Share& s) {
  if (s.subdir == "." || s.subdir == ".." || s.subdir.find_first_of(std::string("/\0", 2)) != std::string::npos || s.subdir.size() > 255)
    throw ConfigError("share '" + s.tag + "': its directory name \"" + s.subdir + "\" is not one file name");
}

// What is wrong with a share before anything starts (ConfigError): a tag the guest cannot name it
// by, a subdir that is not one name, a host directory that is not there, no root (virtiofsd must
// run as root), no virtiofsd.
inline void check_share(const Share& s, const std::string& virtiofsd = default_virtiofsd) {
  if (s.tag.empty() || s.tag.size() > 36)
    throw ConfigError("virtio-fs share tag '" + s.tag + "' must be 1 to 36 characters (the device's tag field)");
  for (char c : s.tag)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      throw ConfigError("virtio-fs share tag '" + s.tag + "' may hold only letters, digits, '_', '.' and '-'");
  check_share_subdir(s);
  std::error_code ec;
  if (!std::filesystem::is_directory(s.host_dir, ec))
    throw ConfigError("the host directory " + s.host_dir.string() + " of share '" + s.tag + "' does not exist or is not a directory");
  if (::geteuid() != 0)
    throw ConfigError("virtio-fs shares need root: QEMU 7.2's virtiofsd must run as root (share '" + s.tag + "', " +
                      s.host_dir.string() + ")");
  if (::access(virtiofsd.c_str(), X_OK) != 0)
    throw ConfigError("virtiofsd not found at " + virtiofsd + " (apt-get install qemu-system-common), needed for share '" + s.tag + "'");
}

class Virtiofsd {
 public:
  // Starts the server for `share` in `dir` (the machine's directory) as `name` (fs0: socket
  // fs0.sock, log fs0.log, mount point fs0.root) and waits, until `limit`, for its socket to
  // listen. A server that ends first, or is not listening in time, is a BootError with what it said.
  Virtiofsd(const Share& share, const std::filesystem::path& dir, const std::string& name, const std::string& binary = default_virtiofsd,
            std::chrono::milliseconds limit = std::chrono::seconds(10))
      : share_(share), dir_(dir), name_(name) {
    check_share_subdir(share);
    std::error_code ec;
    std::filesystem::path host = std::filesystem::canonical(share.host_dir, ec);
    if (ec) host = std::filesystem::absolute(share.host_dir);  // missing: the mount below says so
    std::filesystem::create_directory(dir / (name + ".root"), ec);
    if (ec) throw BootError("cannot create " + (dir / (name + ".root")).string() + ": " + ec.message());
    // $1 host directory, $2 our mount point, $3 ro|rw, $4 the share's subdir or ""; then
    // virtiofsd's argv. With a subdir, our mount point is a small tmpfs holding only that
    // directory, the host's bound on it; the tmpfs is made read-only after.
    //
    // virtiofsd locks a pid file named after its socket path in /var/run/virtiofsd/; our socket
    // path is relative (fs0.sock, for the 108-byte limit on socket paths), so every machine's
    // first server would lock the same file and a second VM with a share, started meanwhile,
    // failed with "Cannot lock pid file". A tmpfs there, in this server's own mount namespace,
    // gives each server its own and leaves no pid file behind on the host.
    // (Mounted after the binds: a host directory under /var/run/virtiofsd is shared as it is.)
    static constexpr const char* script =
        "at=$2\n"
        "if [ -n \"$4\" ]; then\n"
        "  mount -t tmpfs -o size=16k,nr_inodes=4,mode=0755 crumble-share \"$2\" && mkdir -- \"$2/$4\" || exit 1\n"
        "  at=$2/$4\n"
        "fi\n"
        "mount --bind -- \"$1\" \"$at\" || exit 1\n"
        "if [ \"$3\" = ro ]; then mount -o remount,bind,ro -- \"$at\" || exit 1; fi\n"
        "if [ -n \"$4\" ]; then mount -o remount,ro -- \"$2\" || exit 1; fi\n"
        "mkdir -p /var/run/virtiofsd && mount -t tmpfs -o size=64k,mode=0700 crumble-virtiofsd /var/run/virtiofsd || exit 1\n"
        "shift 4\n"
        "exec \"$@\"\n";
    const std::vector<std::string> argv = {"unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
                                           "crumble-virtiofsd", host.string(), name + ".root", share.read_only ? "ro" : "rw", share.subdir,
                                           binary, "--socket-path=" + socket(), "-o", "source=" + fuse_opt_escape((dir / (name + ".root")).string()),
                                           "-o", "cache=auto", "-o", "sandbox=namespace"};
    process_.emplace(argv, log_path(), dir);
    wait_listening(limit);
  }
  Virtiofsd(const Virtiofsd&) = delete;
  Virtiofsd& operator=(const Virtiofsd&) = delete;
  ~Virtiofsd() { stop(); }

  // The socket's name, relative to the machine's directory (QEMU's working directory).
  std::string socket() const { return name_ + ".sock"; }
  const Share& share() const { return share_; }
  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Kills it (and the sandboxed child it forked: its process group); writes are already on the
  // host, virtiofsd does not buffer them.
  void stop() { process_.reset(); }
  // What it wrote on stdout and stderr, the last lines.
  std::string log() const { return tail_lines(read_text(log_path()), 12, 2000); }

 private:
  std::filesystem::path log_path() const { return dir_ / (name_ + ".log"); }

  static std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // virtiofsd's -o is libfuse's option parser (fuse_opt.c): ',' separates options, '\' escapes
  // the next character. Its sandbox resolves `source` after leaving our working directory, so it
  // must be absolute: our directory's path ($TMPDIR) goes in, escaped.
  static std::string fuse_opt_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == ',' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  }

  std::string who() const { return "virtiofsd for share '" + share_.tag + "' (" + share_.host_dir.string() + ")"; }

  // virtiofsd binds, listens, then logs "Waiting for vhost-user socket connection" and blocks in
  // accept() for QEMU (one connection only: probing the socket ourselves would take it). So ready
  // is: the socket exists and that line is there; a socket that exists for a second without the
  // line (a virtiofsd that words it otherwise) counts as ready too.
  void wait_listening(std::chrono::milliseconds limit) {
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + limit;
    std::optional<clock::time_point> socket_seen;
    while (true) {
      if (!process_->running()) {
        const std::string said = log();
        throw BootError(who() + " did not start (" + process_->exit_status() + ")" + (said.empty() ? "" : ":\n" + said));
      }
      std::error_code ec;
      if (std::filesystem::is_socket(dir_ / socket(), ec)) {
        if (!socket_seen) socket_seen = clock::now();
        if (read_text(log_path()).find("Waiting for vhost-user socket connection") != std::string::npos) return;
        if (clock::now() - *socket_seen > std::chrono::seconds(1)) return;
      }
      if (clock::now() > until) {
        const std::string said = log();
        process_.reset();
        throw BootError(who() + " was not listening on its socket within " + std::to_string(limit.count()) + " ms" +
                        (said.empty() ? "" : ":\n" + said));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  Share share_;
  std::filesystem::path dir_;
  std::string name_;
  std::optional<ChildProcess> process_;
};

}  // namespace crumble::vm
