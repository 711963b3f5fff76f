// SPDX-License-Identifier: Apache-2.0
// crumble/vm/snapshot/restore_or_boot.hpp — the one rule for starting a guest through the snapshot
// cache, for every engine (Session for Linux guests, bare_from_cache for bare VMs):
//
//   1. restore   a snapshot of this guest is there and newer than its reference (the kernel):
//                restore it. One that is stale or cannot be restored (damaged, another host's,
//                refused by the engine) is removed, or, in strict mode, is a SnapshotError.
//   2. boot      boot cold to the snapshot point (init holding or waiting; a bare program at its
//                pause). A guest that does not get there (a bare program that ended; an init
//                that does not hold) runs on without a snapshot.
//   3. save      under the key's lock: unless another process saved one meanwhile, save. A save
//                that fails leaves a working guest without a snapshot (strict mode: an error),
//                except a guest that did not survive it (BootError), which is never hidden.
//
// The engine gives the three steps; the rule and the notes that tell the user what happened
// ("restored from snapshot KEY", "removed snapshot KEY (why); cold boot; saved snapshot KEY") are
// here once.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "../errors.hpp"
#include "cache.hpp"

namespace crumble::vm::snapshot {

struct StartRules {
  // A snapshot older than this file is stale (the kernel: a new kernel makes a new guest);
  // empty: a snapshot of any age will do.
  std::filesystem::path newer_than;
  std::string newer_than_name;  // how a message names it ("the kernel PATH"); empty: its path
  // A snapshot that cannot be used, or cannot be saved, is a SnapshotError instead of a cold boot.
  bool strict = false;
};

struct StartOutcome {
  bool restored = false;
  std::string note;  // how the guest started and what happened to the cache, for the user
};

// `restore(path)` starts the guest from the snapshot at `path` and throws SnapshotError when it
// cannot; `boot()` boots cold to the snapshot point and returns why the guest is not there (empty
// when it is: then it is saved); `save(path)` saves the guest there.
template <class Restore, class Boot, class Save>
StartOutcome restore_or_boot(const SnapshotCache& cache, const std::string& key, const StartRules& rules, Restore&& restore, Boot&& boot,
                             Save&& save) {
  StartOutcome out;
  const std::filesystem::path file = cache.path(key);
  std::error_code ec;
  std::optional<std::filesystem::file_time_type> reference;
  if (!rules.newer_than.empty()) {
    const auto t = std::filesystem::last_write_time(rules.newer_than, ec);
    if (!ec) reference = t;
  }
  if (std::filesystem::exists(file, ec)) {
    std::string problem;
    if (!cache.fresh(key, reference)) {
      problem = "it is older than " + (rules.newer_than_name.empty() ? rules.newer_than.string() : rules.newer_than_name);
    } else {
      try {
        restore(file);
        out.restored = true;
        out.note = "restored from snapshot " + key;
        return out;
      } catch (const SnapshotError& e) {
        problem = e.what();
      }
    }
    if (rules.strict) throw SnapshotError("snapshot " + file.string() + " cannot be used: " + problem);
    cache.remove(key);
    out.note = "removed snapshot " + key + " (" + problem + "); ";
  }
  if (const std::string not_there = boot(); !not_there.empty()) {
    out.note += "cold boot; no snapshot: " + not_there;
    return out;
  }
  try {
    const auto held = cache.lock(key);  // of two processes that booted cold, one saves
    cache.remove_interrupted_saves(key);  // a save killed midway (SIGKILL) left its temporary files
    if (cache.fresh(key, reference)) {
      out.note += "cold boot; snapshot " + key + " was saved meanwhile by another process";
    } else {
      save(file);
      out.note += "cold boot; saved snapshot " + key;
    }
  } catch (const BootError&) {
    throw;  // the guest did not survive the save
  } catch (const VmError& e) {
    if (rules.strict) throw SnapshotError(std::string("cannot save a snapshot: ") + e.what());
    out.note += std::string("cold boot; could not save a snapshot: ") + e.what();
  }
  return out;
}

}  // namespace crumble::vm::snapshot
