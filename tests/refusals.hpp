// SPDX-License-Identifier: Apache-2.0
// tests/refusals.hpp — a table of encoder calls whose operand does not fit, and the errc each
// must be refused with (crumble/error.hpp: every architecture reports it the same way).
//
// A row is: the call as text (printed when it fails), the call, and the expected errc; or
// `fits` for the last value that must still be encoded, so that each edge is checked from both
// sides. The edges come from the architecture manuals' field widths, not from the encoders.
#pragma once

#include <catch2/catch.hpp>
#include <crumble/error.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace crumble::test {

inline constexpr std::optional<errc> fits{};

struct Refusal {
  std::string call;
  std::function<void()> encode;
  std::optional<errc> refused;  // nullopt (`fits`): must encode
};

inline void check_refusals(const std::vector<Refusal>& rows) {
  for (const Refusal& row : rows) {
    INFO(row.call);
    if (!row.refused) {
      CHECK_NOTHROW(row.encode());
      continue;
    }
    try {
      row.encode();
      FAIL_CHECK("encoded, expected " << to_string(*row.refused));
    } catch (const compile_error& e) {
      CHECK(to_string(e.code()) == to_string(*row.refused));
    }
  }
}

}  // namespace crumble::test
