// An open-addressing set of pointers keyed through the objects they point to: one 8-byte slot
// per object and no copy of its key (memory per idle link, docs/performance.md). `KeyOf(p)` is
// the key of `*p`, which must not change while `p` is in the set; lookups take a `Key` (or what
// converts to one).
#pragma once

#include <cstddef>
#include <functional>

#include <boost/unordered/unordered_flat_set.hpp>

namespace thingport::broker {

template <class T, class Key, Key (*KeyOf)(const T*) noexcept> struct key_through {
  using is_transparent = void;
  static Key of(const Key& k) noexcept { return k; }
  static Key of(const T* p) noexcept { return KeyOf(p); }
  template <class K> std::size_t operator()(const K& k) const noexcept {
    return std::hash<Key>{}(of(k));
  }
  template <class A, class B> bool operator()(const A& a, const B& b) const noexcept {
    return of(a) == of(b);
  }
};

template <class T, class Key, Key (*KeyOf)(const T*) noexcept>
using pointer_set =
    boost::unordered_flat_set<T*, key_through<T, Key, KeyOf>, key_through<T, Key, KeyOf>>;

} // namespace thingport::broker
