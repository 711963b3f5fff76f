// SPDX-License-Identifier: Apache-2.0
// crumble/vm/run.hpp — the simplest use: one command in a fresh microVM, one call.
//
//   auto r = crumble::vm::run({"uname", "-a"});   // boots (or restores the cached snapshot), runs,
//   std::cout << r.out;  return r.status();        // powers off; the result like a shell's
//                                                  // (each stream kept up to config.output_limit)
//
// The counterpart of libkrun's krun_start_enter: it makes a Session from `config` (the default
// init, the fetched kernel, the snapshot cache), runs argv to its end with `env`, shuts the guest
// down and returns what the command did. Errors are the Session's (ConfigError, BootError,
// GuestTimeout, ...). For more than one command, keep a Session: each run() then costs a round trip,
// not a boot.
#pragma once

#include <string>
#include <vector>

#include "session.hpp"

namespace crumble::vm {

inline CommandResult run(const std::vector<std::string>& argv, const SessionConfig& config = {},
                         const std::vector<std::string>& env = default_environment()) {
  Session vm(config);
  CommandResult r = vm.run(argv, env);
  vm.shutdown();
  return r;
}

// The same, the command's output handed to `sink` (sink(Stream, std::string_view)) chunk by chunk
// as it arrives, whatever its size; the result's out and err stay empty.
template <class Sink>
  requires std::is_invocable_v<Sink&, Stream, std::string_view>
CommandResult run(const std::vector<std::string>& argv, Sink&& sink, const SessionConfig& config = {},
                  const std::vector<std::string>& env = default_environment()) {
  Session vm(config);
  CommandResult r = vm.run(argv, sink, env);
  vm.shutdown();
  return r;
}

}  // namespace crumble::vm
