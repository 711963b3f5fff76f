// crumble/ir/node.hpp — NodeOf<Kinds...>: owns exactly one node of one of several kinds.
//
// It plays the role of std::variant<Kinds...> for the IR, without a union: GCC 12's constant
// evaluator spends exponential time (minutes, then runs out of memory) copying and moving
// std::variant alternatives that hold non-trivial members, which is what IR nodes are. Here
// each kind has its own pointer, exactly one is set, and `index` says which. Copying copies the
// node; moving moves the pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

namespace crumble::ir {

template <class... Kinds>
class NodeOf {
 public:
  template <class T>
  static constexpr std::size_t index_of = [] {
    std::size_t i = 0, found = sizeof...(Kinds);
    ((std::is_same_v<T, Kinds> ? (found = i, ++i) : ++i), ...);
    return found;
  }();
  template <class T>
  static constexpr bool holds_kind = index_of<std::remove_cvref_t<T>> < sizeof...(Kinds);

  template <class T>
    requires holds_kind<T>
  constexpr NodeOf(T&& value) : index_(index_of<std::remove_cvref_t<T>>) {
    using U = std::remove_cvref_t<T>;
    std::get<U*>(nodes_) = new U(std::forward<T>(value));
  }
  constexpr NodeOf(const NodeOf& o) : index_(o.index_) {
    ((std::get<Kinds*>(nodes_) = std::get<Kinds*>(o.nodes_) ? new Kinds(*std::get<Kinds*>(o.nodes_)) : nullptr), ...);
  }
  constexpr NodeOf(NodeOf&& o) noexcept : nodes_(std::exchange(o.nodes_, {})), index_(o.index_) {}
  constexpr NodeOf& operator=(NodeOf o) noexcept {
    std::swap(nodes_, o.nodes_);
    std::swap(index_, o.index_);
    return *this;
  }
  constexpr ~NodeOf() { (delete std::get<Kinds*>(nodes_), ...); }

  constexpr std::size_t index() const { return index_; }
  template <class T>
  constexpr const T* get_if() const { return std::get<T*>(nodes_); }
  template <class T>
  constexpr bool holds() const { return std::get<T*>(nodes_) != nullptr; }

  // Calls f with the node, as its own type.
  template <class F>
  constexpr decltype(auto) visit(F&& f) const { return visit_at<0>(f); }

 private:
  std::tuple<Kinds*...> nodes_{};
  std::uint8_t index_;

  template <std::size_t I, class F>
  constexpr decltype(auto) visit_at(F& f) const {
    if constexpr (I + 1 == sizeof...(Kinds)) {
      return f(*std::get<I>(nodes_));
    } else {
      if (index_ == I) return f(*std::get<I>(nodes_));
      return visit_at<I + 1>(f);
    }
  }
};

}  // namespace crumble::ir
