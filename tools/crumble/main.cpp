// SPDX-License-Identifier: Apache-2.0
// crumble — boot a Linux microVM and run a command in it.
//
//   crumble run [options] -- CMD [ARGS...]     the command's stdout/stderr, and its exit status
//   crumble run --image PATH [options] [-- CMD] a container: an OCI image (or --rootfs DIR) as root
//   crumble image list|rm|prune                the cache of root images
//   crumble bare [--timeout S] FILE.go [ARGS]  run an RTG program in a bare microVM (KVM, no kernel)
//   crumble kernel fetch [--arch A]            download Debian's kernel for amd64/arm64/riscv64 into the cache
//   crumble kernel path [--arch A]             where the cached kernel is
//   crumble snapshot list|clear                the snapshot cache
//
// Exit status of `run`: the command's (128+N when killed by signal N, 127 not found, 126 not
// executable); 125 when crumble itself failed (bad options, no kernel, the VM did not boot).
#include <crumble/container/container.hpp>
#include <crumble/vm/attach.hpp>
#include <crumble/vm/engine/kvm/bare.hpp>
#include <crumble/vm/session.hpp>
#include <crumble/vm/snapshot/cache.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <crumble/rtg/translate.hpp>

#include "version_line.hpp"

namespace {

constexpr int crumble_failed = 125;

constexpr const char* usage = R"(usage:
  crumble run [options] -- CMD [ARGS...]
      -i, --interactive   pass crumble's stdin to the command (default: /dev/null)
      -t, --tty           run the command on a terminal (a pty in the guest; with -i and a
                          terminal here, it is put in raw mode while the command runs)
                          Signals sent to crumble (INT, TERM, HUP, QUIT, USR1, USR2) go to the
                          command; a second Ctrl-C within 1 s, or a command still running 10 s
                          after TERM, HUP or QUIT, stops the VM
      --engine qemu|kvm   force an engine (default: QEMU, with KVM acceleration where the host
                          has VMX/SVM and QEMU can use it; kvm: the in-process KVM engine)
      --kernel PATH       boot this kernel (bzImage or vmlinux) instead of the fetched one
      --arch A            the guest's architecture: amd64 (default), arm64 or riscv64 (Debian's
                          kernel for it from `crumble kernel fetch --arch A`, under QEMU's
                          software emulation: a cold boot takes seconds; riscv64 guests are not
                          snapshotted: QEMU does not migrate their timers); with --image, the
                          image's platform is linux/A (default: amd64, or the image's own
                          when it has no amd64 manifest)
  containers (the command after -- replaces the image's Cmd; flags as in docker/podman run):
      --image PATH        run in this image: an OCI layout directory, an OCI archive or a
                          docker-archive (podman save, skopeo copy, docker save); unpacked once
                          into the root image cache, then reused
      --rootfs DIR        run with this directory as the root; writes go to a layer that is
                          thrown away with the VM
      --rootfs-rw         write through to the --rootfs directory instead (boots cold)
      -v, --volume HOST:CONTAINER[:ro]
                          share a host directory (repeatable; boots cold: QEMU 7.2 cannot
                          snapshot shared directories)
      -w, --workdir DIR   working directory in the container (default: the image's, or /)
      -u, --user USER     name, uid, name:group or uid:gid (default: the image's, or root)
      --hostname NAME     the container's hostname (default: random, as docker)
      --uidmap CONTAINER:HOST:COUNT
                          run in a user namespace of its own whose uids CONTAINER... are the
                          guest's (and the root's files') HOST... (repeatable; as podman)
      --gidmap CONTAINER:HOST:COUNT
                          the same for gids (default: as --uidmap; and --uidmap as --gidmap).
                          The image's files stay the guest's root's: 65534 inside, read-only
                          to the container's root (volumes, /tmp and /run are its own)
      --entrypoint CMD    replace the image's entrypoint
      --platform linux/ARCH
                          the image's architecture (default: the guest's, --arch); arm64,
                          riscv64 and arm binaries run under qemu-user (binfmt_misc) in the
                          amd64 guest
      --security-opt no-new-privileges=false
                          let setuid programs raise privileges (default: they do not)
  microVM:
      --module NAME       load a kernel module at boot, with its dependencies (repeatable)
      --memory MiB        guest memory (default 256)
      --cpus N            virtual CPUs (default 1)
      -e, --env K=V       set an environment variable (repeatable; default PATH, HOME, TERM,
                          or the image's)
      --timeout S         stop the command after S seconds (default 600; none with -i or -t)
      --boot-timeout S    give up booting after S seconds (default 60)
      --append ARGS       add to the kernel command line
      --kernel-log FILE   write the kernel's console output to FILE
      --net               give the guest a network: QEMU's user-mode network (eth0 10.0.2.15/24,
                          gateway 10.0.2.2, DNS 10.0.2.3; outgoing TCP/UDP only, no ping); the
                          QEMU engine only. Without it the guest has only its loopback
      -p, --publish [IP:]HOSTPORT:GUESTPORT[/tcp|/udp]
                          forward a host port to the guest (repeatable; implies --net). Without
                          IP on every interface, as docker; 127.0.0.1:8080:80 keeps it local
      --snapshot late|early
                          where the cached snapshot catches init (default late: waiting for
                          commands; early: right after its setup, phase 6)
      --no-snapshot       boot cold; neither use nor save a snapshot
      --no-container-snapshot
                          set the container up at every start: neither restore nor save a
                          snapshot of this image's container set up (one per image and
                          options, saved by the first run; the later ones skip the setup)
      --snapshot-dir DIR  keep snapshots in DIR (default ~/.cache/crumble/snapshots)
      --strict-snapshot   a snapshot that cannot be used is an error, not a cold boot
      --verbose           say which engine runs and why, whether it was restored from a
                          snapshot, and how long things took
  crumble image list      the root image cache: key, size, last use, source
  crumble image rm KEY... remove cached root images (a key prefix of 4+ characters)
  crumble image prune     remove every cached root image that no run is using
  crumble bare [--timeout S] [-D FLAG] [-c KEY=VALUE] FILE.go [ARGS...]
      run an RTG program in a bare microVM: its own KVM VM, no kernel, the program in user mode,
      its syscalls answered by crumble (write, exit, mmap, getrandom, getpid); the exit status is
      the program's
  crumble kernel fetch [--arch A]
                          download Debian's kernel for guests of architecture A into the cache
                          (shows progress): amd64 (the default: Debian 12's cloud kernel), arm64
                          (bookworm's cloud kernel) or riscv64 (trixie's); foreign ones through
                          an isolated apt configuration that leaves the host's apt and dpkg alone
  crumble kernel path [--arch A]
                          print the cached kernel's path
  crumble snapshot list   list the snapshot cache (~/.cache/crumble/snapshots)
  crumble snapshot clear  empty it
  crumble --version       print the version (and the git revision it was built from)
)";

[[noreturn]] void die(const std::string& msg, bool show_usage = false) {
  std::cerr << "crumble: " << msg << "\n";
  if (show_usage) std::cerr << usage;
  std::exit(show_usage ? 2 : crumble_failed);
}

double seconds_arg(const std::string& opt, const std::string& v) {
  try {
    std::size_t used = 0;
    double s = std::stod(v, &used);
    if (used != v.size() || !(s > 0)) throw std::invalid_argument(v);
    return s;
  } catch (const std::exception&) {
    die(opt + " takes a positive number of seconds, not \"" + v + "\"", true);
  }
}
long int_arg(const std::string& opt, const std::string& v, long lo, long hi) {
  try {
    std::size_t used = 0;
    long n = std::stol(v, &used);
    if (used != v.size() || n < lo || n > hi) throw std::invalid_argument(v);
    return n;
  } catch (const std::exception&) {
    die(opt + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not \"" + v + "\"", true);
  }
}

int kernel_command(const std::vector<std::string>& args) {
  // [--arch amd64|arm64|riscv64], before or after the subcommand.
  crumble::vm::GuestArch arch = crumble::vm::GuestArch::amd64;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--arch") {
      if (i + 1 >= args.size()) die("--arch needs a value", true);
      try {
        arch = crumble::vm::parse_guest_arch(args[++i]);
      } catch (const std::invalid_argument& e) {
        die(e.what(), true);
      }
    } else {
      rest.push_back(args[i]);
    }
  }
  const std::string flag = arch == crumble::vm::GuestArch::amd64 ? "" : " --arch " + std::string(crumble::vm::arch_info(arch).name);
  if (rest.size() == 1 && rest[0] == "fetch") {
    try {
      crumble::vm::GuestKernel k = crumble::vm::fetch_debian_kernel(arch, [](std::string_view line) { std::cerr << line << "\n"; });
      std::cout << k.image.string() << "\n";
      return 0;
    } catch (const std::exception& e) {
      die(std::string("kernel fetch failed: ") + e.what());
    }
  }
  if (rest.size() == 1 && rest[0] == "path") {
    auto k = crumble::vm::cached_kernel(arch);
    if (!k) die("no kernel in the cache: run `crumble kernel fetch" + flag + "`");
    std::cout << k->image.string() << "\n";
    return 0;
  }
  die("unknown kernel command", true);
}

int bare_command(const std::vector<std::string>& args) {
  crumble::vm::BareOptions opt;
  crumble::rtg::Options rtg;
  std::string file;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) die(a + " needs a value", true);
      return args[++i];
    };
    if (a == "--timeout") opt.timeout = std::chrono::milliseconds(static_cast<long>(seconds_arg(a, value()) * 1000));
    else if (a == "-D") rtg.defines.insert(value());
    else if (a == "-c") {
      std::string kv = value();
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) die("-c takes KEY=VALUE, not \"" + kv + "\"", true);
      rtg.config[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (a == "--") {
      ++i;
      break;
    } else if (!a.empty() && a[0] == '-') die("unknown option " + a, true);
    else break;
  }
  if (i >= args.size()) die("no RTG file given: crumble bare FILE.go", true);
  file = args[i];
  opt.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  opt.write = [](int fd, std::string_view bytes) {
    std::FILE* f = fd == 1 ? stdout : stderr;
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fflush(f);
  };
  try {
    crumble::rtg::Translation t = crumble::rtg::translate_file(file, rtg);
    return crumble::vm::run_bare(t.program, opt).status;
  } catch (const crumble::rtg::Error& e) {
    std::cerr << e.what();
    return crumble_failed;
  } catch (const crumble::vm::kvm::KvmUnavailable& e) {
    die(std::string("bare microVMs need KVM: ") + e.what());
  } catch (const std::exception& e) {
    die(e.what());
  }
}

int snapshot_command(const std::vector<std::string>& args) {
  crumble::vm::SnapshotCache cache;
  if (args.size() == 1 && args[0] == "list") {
    auto entries = cache.list();
    for (const auto& e : entries) {
      // a container snapshot's side file names its root disk (Session::start_container)
      std::ifstream side(cache.path(e.key).string() + ".container");
      std::string root;
      std::getline(side, root);
      std::printf("%s  %8.1f MiB%s\n", e.key.c_str(), static_cast<double>(e.bytes) / (1 << 20),
                  root.empty() ? "" : ("  container: " + root).c_str());
    }
    std::fprintf(stderr, "%zu snapshot(s) in %s\n", entries.size(), cache.dir().c_str());
    return 0;
  }
  if (args.size() == 1 && args[0] == "clear") {
    std::fprintf(stderr, "removed %zu snapshot(s) from %s\n", cache.clear(), cache.dir().c_str());
    return 0;
  }
  die("unknown snapshot command", true);
}

// Progress of an image unpack and root image build: on a terminal, one line rewritten in place;
// otherwise nothing until the end, when the root note says what was built and how long it took.
struct Progress {
  bool tty = ::isatty(STDERR_FILENO) == 1;
  bool shown = false;
  void operator()(std::string_view what) {
    if (!tty) return;
    std::fprintf(stderr, "\r\033[Kcrumble: %.*s", static_cast<int>(what.size()), what.data());
    shown = true;
  }
  void done() {
    if (shown) std::fprintf(stderr, "\r\033[K");
    shown = false;
  }
};

// HOST:CONTAINER[:ro|:rw], as docker's -v.
crumble::container::Volume volume_arg(const std::string& v) {
  crumble::container::Volume vol;
  std::string rest = v;
  if (rest.size() > 3 && (rest.ends_with(":ro") || rest.ends_with(":rw"))) {
    vol.read_only = rest.ends_with(":ro");
    rest.resize(rest.size() - 3);
  }
  const auto colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() || rest.find(':', colon + 1) != std::string::npos)
    die("-v takes HOST:CONTAINER[:ro], not \"" + v + "\"", true);
  vol.host = rest.substr(0, colon);
  vol.guest = rest.substr(colon + 1);
  return vol;
}

// --uidmap/--gidmap CONTAINER:HOST:COUNT, as podman's: ids from CONTAINER inside the container's
// user namespace are HOST... in the guest (and so on the host's files of the root and volumes)
crumble::vm::ContainerRequest::IdRange id_range_arg(const std::string& opt, const std::string& v) {
  std::uint32_t n[3] = {};
  std::size_t at = 0;
  for (int k = 0; k < 3; ++k) {
    const std::size_t end = k < 2 ? v.find(':', at) : v.size();
    const std::string part = end == std::string::npos ? "" : v.substr(at, end - at);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 10 || std::stoull(part) > 0xffffffffu ||
        (k == 2 && v.find(':', at) != std::string::npos))
      die(opt + " takes CONTAINER:HOST:COUNT (ids), not \"" + v + "\"", true);
    n[k] = static_cast<std::uint32_t>(std::stoull(part));
    at = end + 1;
  }
  return {n[0], n[1], n[2]};
}

int run_command(const std::vector<std::string>& args) {
  crumble::container::Spec spec;
  crumble::vm::SessionConfig& cfg = spec.vm;
  std::vector<std::string> env;
  std::vector<std::string> command;
  std::string kernel_log;
  bool verbose = false, container_flags = false, interactive = false, tty = false;
  std::optional<std::chrono::milliseconds> timeout;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) die(a + " needs a value", true);
      return args[++i];
    };
    if (a == "-i" || a == "--interactive") interactive = true;
    else if (a == "-t" || a == "--tty") tty = true;
    else if (a == "-it" || a == "-ti") interactive = tty = true;
    else if (a == "--engine") {
      std::string e = value();
      if (e == "qemu") cfg.engine = crumble::vm::Engine::qemu;
      else if (e == "kvm") cfg.engine = crumble::vm::Engine::kvm;
      else die("--engine takes qemu or kvm, not \"" + e + "\"", true);
    } else if (a == "--kernel") {
      cfg.kernel = value();
      spec.arch_from_image = false;  // its architecture is the guest's
    } else if (a == "--arch") {
      spec.arch_from_image = false;
      try {
        cfg.arch = crumble::vm::parse_guest_arch(value());
      } catch (const std::invalid_argument& e) {
        die(e.what(), true);
      }
    } else if (a == "--image") spec.image = value();
    else if (a == "--rootfs") spec.rootfs = value();
    else if (a == "--rootfs-rw") spec.rootfs_rw = true;
    else if (a == "-v" || a == "--volume") spec.volumes.push_back(volume_arg(value())), container_flags = true;
    else if (a == "-w" || a == "--workdir") spec.workdir = value(), container_flags = true;
    else if (a == "-u" || a == "--user") spec.user = value(), container_flags = true;
    else if (a == "--hostname") spec.hostname = value(), container_flags = true;
    else if (a == "--uidmap") spec.uid_map.push_back(id_range_arg(a, value())), container_flags = true;
    else if (a == "--gidmap") spec.gid_map.push_back(id_range_arg(a, value())), container_flags = true;
    else if (a == "--entrypoint") {
      const std::string e = value();
      spec.entrypoint = e.empty() ? std::vector<std::string>{} : std::vector<std::string>{e};
      container_flags = true;
    } else if (a == "--platform") {
      std::string p = value();
      if (p.rfind("linux/", 0) != 0 || p.size() == 6) die("--platform takes linux/ARCH, not \"" + p + "\"", true);
      spec.platform_arch = p.substr(6);
      container_flags = true;
    } else if (a == "--security-opt") {
      const std::string o = value();
      if (o == "no-new-privileges=false") spec.no_new_privs = false;
      else if (o == "no-new-privileges" || o == "no-new-privileges=true") spec.no_new_privs = true;
      else die("--security-opt takes no-new-privileges[=true|false], not \"" + o + "\"", true);
      container_flags = true;
    } else if (a == "--module") cfg.modules.push_back(value());
    else if (a == "--memory") cfg.memory_mib = static_cast<std::uint32_t>(int_arg(a, value(), 192, 65536));
    else if (a == "--cpus") cfg.vcpus = static_cast<int>(int_arg(a, value(), 1, 64));
    else if (a == "-e" || a == "--env") {
      std::string kv = value();
      if (kv.find('=') == std::string::npos || kv[0] == '=') die(a + " takes KEY=VALUE, not \"" + kv + "\"", true);
      env.push_back(kv);
    } else if (a == "--timeout") timeout = std::chrono::milliseconds(static_cast<long>(seconds_arg(a, value()) * 1000));
    else if (a == "--boot-timeout") cfg.boot_timeout = std::chrono::milliseconds(static_cast<long>(seconds_arg(a, value()) * 1000));
    else if (a == "--append") cfg.append = value();
    else if (a == "--kernel-log") kernel_log = value();
    else if (a == "--snapshot") {
      std::string m = value();
      if (m == "late") cfg.snapshot = crumble::vm::SnapshotMode::late;
      else if (m == "early") cfg.snapshot = crumble::vm::SnapshotMode::early;
      else if (m == "off") cfg.snapshot = crumble::vm::SnapshotMode::off;
      else die("--snapshot takes late, early or off, not \"" + m + "\"", true);
    } else if (a == "--no-snapshot") cfg.snapshot = crumble::vm::SnapshotMode::off;
    else if (a == "--strict-snapshot") cfg.snapshot_strict = true;
    else if (a == "--no-container-snapshot") cfg.container_snapshots = false;
    else if (a == "--snapshot-dir") cfg.snapshot_dir = value();
    else if (a == "--verbose") verbose = true;
    else if (a == "--net") cfg.network = true;
    else if (a == "-p" || a == "--publish") {
      try {
        cfg.publish.push_back(crumble::vm::parse_publish(value()));
      } catch (const crumble::vm::ConfigError& e) {
        die(a + ": " + e.what(), true);
      }
      cfg.network = true;
    } else if (!a.empty() && a[0] == '-') die("unknown option " + a, true);
    else {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
  }
  const bool container = !spec.image.empty() || !spec.rootfs.empty();
  if (!container && (container_flags || spec.rootfs_rw))
    die("-v, -w, -u, --hostname, --entrypoint, --platform, --uidmap, --gidmap and --rootfs-rw are for containers: add --image PATH or --rootfs DIR",
        true);
  // as podman: one of --uidmap and --gidmap alone maps the other ids alike
  if (spec.gid_map.empty()) spec.gid_map = spec.uid_map;
  if (spec.uid_map.empty()) spec.uid_map = spec.gid_map;
  if (!spec.image.empty() && !spec.rootfs.empty()) die("--image and --rootfs cannot be used together", true);
  if (command.empty() && spec.image.empty()) die("no command given: crumble run [options] -- CMD [ARGS...]", true);
  // as docker: a terminal's input has no end but ^D, so piped input would never end the command
  if (interactive && tty && !::isatty(STDIN_FILENO)) die("the input device is not a TTY: -it needs a terminal on stdin (use -i alone for piped input)");

  auto t0 = crumble::vm::Clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::optional<crumble::vm::Session> vm;
  std::optional<crumble::container::Container> box;
  auto save_log = [&] {
    if (kernel_log.empty()) return;
    std::ofstream out(kernel_log, std::ios::binary);
    out << (box ? box->kernel_log() : vm ? vm->kernel_log() : std::string());
  };
  Progress progress;
  crumble::vm::Stdio stdio;
  stdio.stdin_open = interactive;
  const int terminal = ::isatty(STDIN_FILENO) ? STDIN_FILENO : ::isatty(STDOUT_FILENO) ? STDOUT_FILENO : -1;
  if (tty) stdio.tty = crumble::vm::terminal_size(terminal).value_or(crumble::vm::TerminalSize{});
  try {
    crumble::vm::CommandResult r;
    std::string name = command.empty() ? std::string() : command[0];
    crumble::vm::AttachOptions attach;
    attach.in = interactive ? STDIN_FILENO : -1;
    attach.terminal = tty ? terminal : -1;
    if (container) {
      spec.env = env;
      spec.progress = std::ref(progress);
      box.emplace(spec);
      progress.done();
      if (!box->arch_note().empty()) std::fprintf(stderr, "crumble: %s\n", box->arch_note().c_str());
      if (verbose || box->root_note().find(" built ") != std::string::npos) std::fprintf(stderr, "crumble: %s\n", box->root_note().c_str());
      if (verbose) {
        std::fprintf(stderr, "crumble: engine: %s\n", box->engine_reason().c_str());
        std::fprintf(stderr, "crumble: %s\n", box->snapshot_note().c_str());
        std::fprintf(stderr, "crumble: %s; ready in %.0f ms\n", box->start_note().c_str(), ms(crumble::vm::Clock::now() - t0));
      }
      name = box->argv(command)[0];
    } else {
      if (env.empty()) env = crumble::vm::default_environment();
      if (tty) {  // docker's TERM for a terminal: the guest's programs know it, whatever the host's is
        for (std::string& e : env)
          if (e == "TERM=linux") e = "TERM=xterm";
      }
      vm.emplace(cfg);
      if (verbose) {
        std::fprintf(stderr, "crumble: engine: %s\n", vm->engine_reason().c_str());
        std::fprintf(stderr, "crumble: %s\n", vm->snapshot_note().c_str());
        std::fprintf(stderr, "crumble: %s in %.0f ms\n", vm->restored() ? "restored" : "booted", ms(crumble::vm::Clock::now() - t0));
      }
    }
    {
      // From here the host's signals go to the command (attach), and a terminal is raw while it runs.
      crumble::vm::SignalForwarding signals;
      attach.signals = &signals;
      std::optional<crumble::vm::RawTerminal> raw;
      if (tty && interactive && ::isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);
      auto t1 = crumble::vm::Clock::now();
      if (timeout) attach.deadline = t1 + *timeout;  // the command's time: not the image's build or the boot
      else if (!interactive && !tty) attach.deadline = t1 + cfg.command_timeout;
      // The output goes out as the guest writes it, straight from the guest's ring, so crumble's
      // memory does not grow with it (a command may write gigabytes) and a reader sees it live.
      crumble::vm::Session::Process p = box ? box->start(command, stdio) : vm->start(command, stdio, env);
      r = crumble::vm::attach(p, attach);
      raw.reset();
      if (verbose) std::fprintf(stderr, "crumble: %s: %s in %.1f ms\n", name.c_str(), r.describe().c_str(), ms(crumble::vm::Clock::now() - t1));
    }
    if (r.end == crumble::vm::CommandResult::End::not_started) std::fprintf(stderr, "crumble: %s: %s\n", name.c_str(), r.describe().c_str());
    // the command's work is done: a VM that shares no host directory is killed, not powered off
    if (box) box->stop();
    if (vm) vm->discard();
    save_log();
    return r.status();
  } catch (const crumble::vm::CommandAbandoned& e) {
    std::fprintf(stderr, "crumble: %s\n", e.what());
    save_log();
    box.reset();
    vm.reset();
    return 128 + e.signal;
  } catch (const std::exception& e) {  // VmError, ImageError, ContainerError, or the output could not be written
    progress.done();
    save_log();
    box.reset();  // the VM and its files go now: die() exits without running destructors
    vm.reset();
    die(e.what());
  }
}

int image_command(const std::vector<std::string>& args) {
  std::optional<crumble::container::RootCache> cache_or;
  try {
    cache_or.emplace();
  } catch (const std::exception& e) {  // no cache directory (neither HOME nor XDG_CACHE_HOME)
    die(e.what());
  }
  crumble::container::RootCache& cache = *cache_or;
  auto when = [](std::filesystem::file_time_type t) {
    const auto sys = std::chrono::file_clock::to_sys(t);
    const std::time_t tt = std::chrono::system_clock::to_time_t(sys);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::localtime(&tt));
    return std::string(buf);
  };
  auto report = [&](const crumble::container::RootCache::Removed& r) {
    for (const std::string& k : r.removed) std::printf("removed %s\n", k.c_str());
    for (const std::string& k : r.in_use) std::fprintf(stderr, "crumble: %s is in use by a running container: kept\n", k.c_str());
    return r.in_use.empty() ? 0 : 1;
  };
  if (args.size() == 1 && args[0] == "list") {
    const auto entries = cache.list();
    std::printf("%-12s  %10s  %-16s  %s\n", "KEY", "SIZE", "LAST USED", "SOURCE");
    for (const auto& e : entries)
      std::printf("%-12s  %6.1f MiB  %-16s  %s\n", e.key.substr(0, 12).c_str(), static_cast<double>(e.bytes) / (1 << 20), when(e.last_used).c_str(),
                  e.source.c_str());
    std::fprintf(stderr, "%zu root image(s) in %s\n", entries.size(), cache.dir().c_str());
    return 0;
  }
  try {
    if (args.size() >= 2 && args[0] == "rm") {
      int status = 0;
      for (std::size_t i = 1; i < args.size(); ++i) {
        const auto r = cache.remove(args[i]);
        if (r.removed.empty() && r.in_use.empty()) {
          std::fprintf(stderr, "crumble: no cached root image %s\n", args[i].c_str());
          status = 1;
        }
        status |= report(r);
      }
      return status;
    }
    if (args.size() == 1 && args[0] == "prune") return report(cache.prune());
  } catch (const std::exception& e) {
    die(e.what());
  }
  die("unknown image command", true);
}

// Before anything else (no thread may start first): SIGTERM, SIGINT and SIGHUP stop the VM,
// remove its temporary directory and exit 128+N; engine processes die with crumble even on
// SIGKILL (host/process.hpp), and what a SIGKILL'ed run left in $TMPDIR this run removes.
void prepare_host() {
  crumble::vm::stop_cleanly_on_signals();
  crumble::vm::reclaim_stale_temp_dirs();
}

}  // namespace

int main(int argc, char** argv) {
  prepare_host();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << crumble::tools::version_line("crumble");
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "run") return run_command(args);
  if (cmd == "kernel") return kernel_command(args);
  if (cmd == "image") return image_command(args);
  if (cmd == "bare") return bare_command(args);
  if (cmd == "snapshot") return snapshot_command(args);
  die("unknown command \"" + cmd + "\"", true);
}
