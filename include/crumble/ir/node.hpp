// SPDX-License-Identifier: Apache-2.0
// crumble/ir/node.hpp — NodeOf<Kinds...>: owns exactly one node of one of several kinds.
//
// It plays the role of std::variant<Kinds...> for the IR, without a union: GCC 12's constant
// evaluator spends exponential time (minutes, then runs out of memory) copying and moving
// std::variant alternatives that hold non-trivial members, which is what IR nodes are. Here
// the node lives on the heap behind one pointer to a small holder (an aggregate: the node, its
// reference count and the function that deletes it); `index` says which kind it is, so access
// is a comparison and a static_cast.
//
// A node never changes once made (NodeOf gives only const access), so copies share it: copying
// counts a reference, the last owner deletes it. Programs are built from braced lists, which
// copy every element, so each node used to be cloned once per level of nesting above it, and
// the lowering copied nodes too; in constant evaluation those clones were a large part of the
// work. The count is atomic at run time, so copying one program from several threads is safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace crumble::ir {

namespace node_detail {
// __builtin_is_constant_evaluated() here and below is std::is_constant_evaluated() without the
// call: Clang counts a call's statements as steps of -fconstexpr-steps, and these run for every
// node visited, copied and released (GCC 9+ and Clang 9+ have the builtin).
//
// The holder deletes itself through a function pointer it was made with, not a virtual
// destructor: GCC's evaluator spends ~130 operations more per node on a polymorphic object
// (its vtable pointer set and read), a third of what making and deleting a node cost
// (bench/README.md §3, session 30). NodeOf's destructor cannot use a table by kind instead:
// Clang instantiates it where Expr is defined, before the kinds that hold an Expr are complete.
struct HolderBase {
  std::size_t refs;
  void (*destroy)(HolderBase*) noexcept;
};
template <class T>
struct Holder final : HolderBase {
  T value;
};
template <class T>
constexpr void destroy(HolderBase* h) noexcept {
  delete static_cast<Holder<T>*>(h);
}
template <class K, class...>
struct First {  // the first of a pack (C++20 has no pack indexing)
  using type = K;
};
constexpr HolderBase* share(HolderBase* h) {
  if (__builtin_is_constant_evaluated()) ++h->refs;
  else std::atomic_ref<std::size_t>(h->refs).fetch_add(1, std::memory_order_relaxed);
  return h;
}
// Drops one reference of a node (not null) at run time; deletes it with the last. In constant
// evaluation NodeOf's destructor does this inline: a call fewer per node.
inline void release(HolderBase* h) {
  if (std::atomic_ref<std::size_t>(h->refs).fetch_sub(1, std::memory_order_acq_rel) == 1) h->destroy(h);
}
}  // namespace node_detail

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
  constexpr NodeOf(T&& value)
      : node_(new Holder<std::remove_cvref_t<T>>{{1, &node_detail::destroy<std::remove_cvref_t<T>>},
                                                 std::forward<T>(value)}),
        index_(index_of<std::remove_cvref_t<T>>) {}
  constexpr NodeOf(const NodeOf& o) : node_(node_detail::share(o.node_)), index_(o.index_) {}
  // Not std::exchange: a call.
  constexpr NodeOf(NodeOf&& o) noexcept : node_(o.node_), index_(o.index_) { o.node_ = nullptr; }
  constexpr NodeOf& operator=(NodeOf o) noexcept {
    std::swap(node_, o.node_);
    std::swap(index_, o.index_);
    return *this;
  }
  constexpr ~NodeOf() {
    if (!node_) return;
    if (__builtin_is_constant_evaluated()) {
      if (--node_->refs == 0) node_->destroy(node_);
    } else {
      node_detail::release(node_);
    }
  }

  constexpr std::size_t index() const { return index_; }
  template <class T>
  constexpr bool holds() const { return index_ == index_of<T>; }
  template <class T>
  constexpr const T* get_if() const {
    return holds<T>() ? &static_cast<const Holder<T>*>(node_)->value : nullptr;
  }

  // Calls f with the node, as its own type. In constant evaluation through a table of one
  // function per kind, indexed by the kind: one evaluated call, where the chain of comparisons
  // costs a nested call per kind before this one (an Op is the 12th expression kind), and the
  // evaluators count every call (Clang's -fconstexpr-steps, GCC's -fconstexpr-ops-limit). At
  // run time the chain, which the optimiser turns into a jump to inlined code.
  template <class F>
  constexpr decltype(auto) visit(F&& f) const {
    if (__builtin_is_constant_evaluated()) return dispatch<F>[index_](node_, f);
    return visit_at<0, Kinds...>(f);
  }

 private:
  template <class T>
  using Holder = node_detail::Holder<T>;
  node_detail::HolderBase* node_;
  std::uint8_t index_;

  template <class F, class K>
  static constexpr decltype(auto) call_kind(const node_detail::HolderBase* h, F& f) {
    return f(static_cast<const Holder<K>*>(h)->value);
  }
  // One entry per kind; F's call must return the same type for every kind (visit_at's chain
  // needs that too).
  template <class F>
  using entry_t = decltype(&call_kind<F, typename node_detail::First<Kinds...>::type>);
  template <class F>
  static constexpr entry_t<F> dispatch[sizeof...(Kinds)] = {&call_kind<F, Kinds>...};  // not std::array: no call per visit

  template <std::size_t I, class K, class... Rest, class F>
  constexpr decltype(auto) visit_at(F& f) const {
    if constexpr (sizeof...(Rest) == 0) {
      return f(static_cast<const Holder<K>*>(node_)->value);
    } else {
      if (index_ == I) return f(static_cast<const Holder<K>*>(node_)->value);
      return visit_at<I + 1, Rest...>(f);
    }
  }
};

}  // namespace crumble::ir
