// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/qemu/kvm_probe.hpp — can QEMU run our microVM with KVM on this host?
//
// /dev/kvm opening is not enough: a paging-based software hypervisor (kvm_pvm, as on this
// project's machines) has /dev/kvm but refuses what QEMU needs for a vCPU (it aborts setting MSR
// 0x10a). So before choosing `-accel kvm` the Session asks QEMU itself: the same machine type and
// CPU model, paused (-S), asked over QMP whether KVM is enabled, then told to quit. It costs about
// 0.2 s and runs only where the host has VMX/SVM and /dev/kvm opens.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "../../host/process.hpp"

namespace crumble::vm::qemu {

// nullopt when QEMU runs a paused microvm vCPU under KVM; otherwise QEMU's reason (its last words).
inline std::optional<std::string> kvm_problem(const std::string& binary = "qemu-system-x86_64") {
  // A fixed script (no caller text in it): QMP on stdin, the answers on stdout.
  const std::string script =
      "printf '%s' '{\"execute\":\"qmp_capabilities\"}{\"execute\":\"query-kvm\"}{\"execute\":\"quit\"}' | exec \"$0\" "
      "-M microvm -accel kvm -cpu host -m 64 -display none -nodefaults -no-user-config -S -qmp stdio";
  ProcessResult r;
  try {
    r = run_process({"sh", "-c", script, binary}, std::chrono::seconds(10));
  } catch (const std::exception& e) {
    return std::string("the probe did not run: ") + e.what();
  }
  if (r.status == 0 && r.out.find("\"enabled\": true") != std::string::npos) return std::nullopt;
  const std::string why = tail_lines(r.err.empty() ? r.out : r.err, 2, 300);
  return (r.signal ? "QEMU was killed by signal " + std::to_string(r.signal) : "QEMU exited with status " + std::to_string(r.status)) +
         (why.empty() ? std::string() : ": " + why);
}

}  // namespace crumble::vm::qemu
