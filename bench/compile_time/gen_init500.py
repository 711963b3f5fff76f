#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes init500.cpp: an init-like IR program of ~500 statements, assembled in constexpr.

The program looks like what a microVM's init does: main mounts file systems, creates device
nodes and directories, sets the host name, then starts 20 services (one function each) that
open a device or file, write to it in a loop, check results, print status lines and update
globals, then reaps children in a wait loop and powers off. Every statement is written out
literally in the generated source, as a hand-written init would be.

Knobs (macros) used by compile_time.sh to find what compilation time is spent on:
  CRUMBLE_CT_MODE      0: headers + program text only (prog() is never evaluated) -- baseline
                       1: build the Program in constexpr only (no lowering)
                       2: assemble it with the constexpr overload (the default; the real use)
                       3: one run-time-form assemble(prog()) inside a constant expression
                          (what the constexpr overload does twice: counting + filling pass)
  CRUMBLE_CT_PRINTF    1 (default): status lines are Printf; 0: the same lines as a plain
                       write syscall of a constant string (same statement count, no printf
                       runtime, no argument stores)
  CRUMBLE_CT_STRINGS   1 (default): paths and names are embedded strings (cstr); 0: they are
                       replaced by the address of the function's stack buffer (same node count,
                       no read-only data except printf formats)
  CRUMBLE_CT_ARCH      the target, amd64 (default), or another directory of include/crumble/arch
  CRUMBLE_CT_SERVICES  how many of the 20 service functions are in the program (default 20);
                       10 gives ~half the statements

Usage: python3 gen_init500.py > init500.cpp
"""

SERVICES = [
    ("syslogd", "/dev/kmsg"), ("udevd", "/dev/null"), ("netd", "/sys/class/net/eth0/operstate"),
    ("timesync", "/dev/rtc0"), ("rngd", "/dev/hwrng"), ("vsockd", "/dev/vsock"),
    ("mountd", "/proc/mounts"), ("cgroupd", "/sys/fs/cgroup/cgroup.procs"), ("watchdog", "/dev/watchdog"),
    ("consoled", "/dev/console"), ("blockd", "/dev/vda"), ("agentd", "/dev/virtio-ports/agent"),
    ("metricsd", "/proc/stat"), ("memd", "/proc/meminfo"), ("hostsd", "/etc/hosts"),
    ("resolvd", "/etc/resolv.conf"), ("sshd", "/run/sshd.pid"), ("cronic", "/var/spool/cron"),
    ("balloond", "/sys/devices/virtio-balloon"), ("shutdownd", "/run/initctl"),
]


def status(fmt, args):
    """A status line: status(fmt, {args}, plain) in the generated source (see there)."""
    plain = fmt.replace("%d", "?").replace("%x", "?").replace("%s", "?")
    return f'status("{fmt}", {{{", ".join(args)}}}, "{plain}")'


def service(k, name, path):
    n = 3 + k % 5
    mode = 0o644 + k
    nl = "\\n"
    st_open = status(f"{name}: cannot open {path}: %d{nl}", ["fd"])
    st_short = status(f"{name}: short write %d{nl}", ["r"])
    st_started = status(f"{name}: started (%x){nl}", ["x & 0xffff"])
    lines = f'''
// service {k}: {name}
constexpr Function svc_{name}() {{
  Var fd{{"fd"}}, i{{"i"}}, r{{"r"}}, x{{"x"}}, arg{{"arg"}};
  BufferAddr buf{{"buf"}};
  return Function{{"svc_{name}", {{"arg"}}, {{
      Assign{{fd, syscall(Sys::openat, {{-100, str("{path}"), 0x42, {mode}}})}},
      If{{(fd < 0) && (arg < {n}), {{
          Syscall{{Sys::nanosleep, {{buf, 0}}}},
          Assign{{fd, syscall(Sys::openat, {{-100, str("{path}"), 0x42, {mode}}})}},
      }}}},
      If{{fd < 0, {{
          {st_open},
          Return{{fd}},
      }}}},
      Assign{{x, (arg * {k + 3} + {k * 17 + 1}) ^ 0x{0x55 + k:x}}},
      Assign{{i, 0}},
      While{{i < {8 + k}, {{
          store(buf + i, 0, 8, shr(x, 3) + i),
          Assign{{x, x * 1103515245 + 12345}},
          Assign{{i, i + 1}},
      }}}},
      Assign{{r, syscall(Sys::write, {{fd, buf, {8 + k}}})}},
      If{{r != {8 + k}, {{
          {st_short},
          Assign{{GlobalVar{{"errors"}}, GlobalVar{{"errors"}} + 1}},
      }}, {{
          Assign{{GlobalVar{{"written"}}, GlobalVar{{"written"}} + r}},
      }}}},
      Syscall{{Sys::close, {{fd}}}},
      {st_started},
      Return{{x & 0xff}},
  }}, {{{{"buf", 128}}}}}};
}}
'''
    return lines


MOUNTS = [("proc", "/proc", "proc"), ("sysfs", "/sys", "sysfs"), ("devtmpfs", "/dev", "devtmpfs"),
          ("tmpfs", "/run", "tmpfs"), ("tmpfs", "/tmp", "tmpfs"), ("cgroup2", "/sys/fs/cgroup", "cgroup2")]
DIRS = ["/run/lock", "/run/user", "/var/log", "/var/spool", "/var/spool/cron", "/etc/init.d"]
NODES = [("/dev/null", 0x103), ("/dev/zero", 0x105), ("/dev/urandom", 0x109), ("/dev/console", 0x501)]


def main_fn():
    body = []
    body.append('Assign{ok, 0}, Assign{failed, 0}')
    body.append(status("init: starting, pid %d\\n", ["syscall(Sys::getpid)"]))
    for src, dst, fs in MOUNTS:
        body.append(f'Syscall{{Sys::mkdirat, {{-100, str("{dst}"), 0755}}}}')
        body.append(f'Assign{{r, syscall(Sys::mount, {{str("{src}"), str("{dst}"), str("{fs}"), 0, 0}})}}')
        st = status(f"init: mount {dst} failed: %d" + "\\n", ["r"])
        body.append(f'If{{r < 0, {{{st}, Assign{{failed, failed + 1}}}}}}')
    for d in DIRS:
        body.append(f'Syscall{{Sys::mkdirat, {{-100, str("{d}"), 0755}}}}')
    for path, dev in NODES:
        body.append(f'Assign{{r, syscall(Sys::mknodat, {{-100, str("{path}"), 0x2000 | 0666, {dev}}})}}')
        body.append(f'If{{(r < 0) && (r != -17), {{Assign{{failed, failed + 1}}}}}}')
    body.append('Syscall{Sys::sethostname, {str("crumble-vm"), 10}}')
    body.append('Assign{fd, syscall(Sys::openat, {-100, str("/dev/console"), 2, 0})}')
    body.append('If{fd >= 0, {Syscall{Sys::dup3, {fd, 0, 0}}, Syscall{Sys::dup3, {fd, 1, 0}}, '
                'Syscall{Sys::dup3, {fd, 2, 0}}}}')
    return body


def main():
    out = []
    out.append('''// init500.cpp -- GENERATED by gen_init500.py; do not edit (edit the generator).
//
// An init-like program of ~500 IR statements (see gen_init500.py for what it does and for the
// CRUMBLE_CT_* knobs), assembled at compile time for AMD64 (CRUMBLE_CT_ARCH picks another
// target). compile_time.sh compiles this file in several configurations and reports wall time
// and peak memory of each. Only the chosen target's headers are included, so the baseline does
// not grow with the number of architectures crumble.hpp pulls in.
#ifndef CRUMBLE_CT_ARCH
#define CRUMBLE_CT_ARCH amd64
#endif
#define CRUMBLE_CT_STR_(x) #x
#define CRUMBLE_CT_STR(x) CRUMBLE_CT_STR_(x)
#include CRUMBLE_CT_STR(crumble/arch/CRUMBLE_CT_ARCH/target.hpp)
#include <crumble/assemble.hpp>
#include <crumble/ir/build.hpp>

#ifndef CRUMBLE_CT_MODE
#define CRUMBLE_CT_MODE 2
#endif
#ifndef CRUMBLE_CT_PRINTF
#define CRUMBLE_CT_PRINTF 1
#endif
#ifndef CRUMBLE_CT_STRINGS
#define CRUMBLE_CT_STRINGS 1
#endif
#ifndef CRUMBLE_CT_SERVICES
#define CRUMBLE_CT_SERVICES 20
#endif
namespace init500 {
using namespace crumble::ir;

// A constant string (a path, a name), or with CRUMBLE_CT_STRINGS=0 a stack buffer's address.
constexpr Expr str(std::string_view s) {
#if CRUMBLE_CT_STRINGS
  return cstr(s);
#else
  (void)s;
  return BufferAddr{"buf"};
#endif
}

// A status line on stdout: Printf, or with CRUMBLE_CT_PRINTF=0 a write of the constant text.
constexpr Stmt status(std::string_view fmt, std::vector<Expr> args, std::string_view plain) {
#if CRUMBLE_CT_PRINTF
  (void)plain;
  return Printf{fmt, std::move(args)};
#else
  (void)fmt;
  (void)args;
  return Syscall{Sys::write, {1, str(plain), static_cast<std::int64_t>(plain.size())}};
#endif
}
''')
    for k, (name, path) in enumerate(SERVICES):
        out.append(service(k, name, path))

    mb = main_fn()
    out.append('''
constexpr Function init_main() {
  Var r{"r"}, fd{"fd"}, ok{"ok"}, failed{"failed"}, wstatus{"wstatus"}, pid{"pid"};
  BufferAddr buf{"buf"};
  Block b{
''')
    for s in mb:
        out.append(f'      {s},\n')
    out.append('  };\n')
    for k, (name, _) in enumerate(SERVICES):
        out.append(f'#if CRUMBLE_CT_SERVICES > {k}\n')
        out.append(f'  b.push_back(If{{call("svc_{name}", {{{k}}}) >= 0, {{Assign{{ok, ok + 1}}}}, {{Assign{{failed, failed + 1}}}}}});\n')
        out.append('#endif\n')
    out.append('''  // Reap children until none is left, then power off.
  b.push_back(While{Int64{1} == 1, {
      Assign{pid, syscall(Sys::wait4, {-1, buf, 0, 0})},
      If{pid < 0, {Break{}}},
      Assign{wstatus, load(buf, 0, 32)},
      If{(wstatus & 0x7f) != 0, {Assign{failed, failed + 1}}},
  }});
  b.push_back(''' + status("init: %d services up, %d failed\\n", ["ok", "failed"]) + ''');
  b.push_back(Syscall{Sys::sync});
  b.push_back(Syscall{Sys::reboot, {Int64{0xfee1dead}, 672274793, 0x4321fedc, 0}});
  b.push_back(Return{failed});
  return Function{"main", {}, std::move(b), {{"buf", 256}}};
}

constexpr Program prog() {
  Program p{{init_main()}, {{"errors"}, {"written"}}};
''')
    for k, (name, _) in enumerate(SERVICES):
        out.append(f'#if CRUMBLE_CT_SERVICES > {k}\n  p.functions.push_back(svc_{name}());\n#endif\n')
    out.append('''  return p;
}

// Statements in the program, nested ones included (If/While bodies), Printf counted as one.
constexpr int statements(const Block& b) {
  int n = 0;
  for (const Stmt& s : b) {
    ++n;
    if (auto* i = get_if<If>(s)) n += statements(i->then_body) + statements(i->else_body);
    if (auto* w = get_if<While>(s)) n += statements(w->body);
  }
  return n;
}
constexpr int statements(const Program& p) {
  int n = 0;
  for (const Function& f : p.functions) n += statements(f.body);
  return n;
}
}  // namespace init500

#if CRUMBLE_CT_MODE == 1
constexpr int init500_statements = init500::statements(init500::prog());
static_assert(init500_statements > 0);
#elif CRUMBLE_CT_MODE == 2
constexpr auto init500_image = crumble::assemble<crumble::arch::CRUMBLE_CT_ARCH>([] { return init500::prog(); });
static_assert(init500_image.code_size > 0);
#elif CRUMBLE_CT_MODE == 3
constexpr std::size_t init500_size = crumble::assemble<crumble::arch::CRUMBLE_CT_ARCH>(init500::prog()).bytes.size();
static_assert(init500_size > 0);
#endif

// Linked into nothing: the object file is what compile_time.sh measures. With -DCRUMBLE_CT_MAIN
// it becomes a program that prints the statement count and the image size (run-time assembly).
#ifdef CRUMBLE_CT_MAIN
#include <cstdio>
int main() {
  auto p = init500::prog();
  auto img = crumble::assemble<crumble::arch::CRUMBLE_CT_ARCH>(p);
  std::printf("%d statements, %zu functions, %llu code bytes, %zu image bytes\\n", init500::statements(p),
              p.functions.size(), static_cast<unsigned long long>(img.code_size), img.bytes.size());
#if CRUMBLE_CT_MODE == 2
  bool same = img.bytes.size() == init500_image.bytes.size();
  for (std::size_t i = 0; same && i < img.bytes.size(); ++i) same = img.bytes[i] == init500_image.bytes[i];
  std::printf("constexpr image %s the run-time image\\n", same ? "equals" : "DIFFERS FROM");
  return same ? 0 : 1;
#endif
}
#endif
''')
    print("".join(out), end="")


if __name__ == "__main__":
    main()
