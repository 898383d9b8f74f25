// An open-addressing set of pointers keyed through the objects they point to: one 8-byte slot
// per object and no copy of its key (memory per idle link, docs/performance.md). `KeyOf(p)` is
// the key of `*p`, which must not change while `p` is in the set; lookups take a `Key` (or what
// converts to one).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

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

// A pointer_set that owns what it points to: the objects are made elsewhere, handed in, and
// deleted when erased or with the set (or taken out again, whole).
template <class T, class Key, Key (*KeyOf)(const T*) noexcept> class owning_pointer_set {
public:
  owning_pointer_set() = default;
  owning_pointer_set(const owning_pointer_set&) = delete;
  owning_pointer_set& operator=(const owning_pointer_set&) = delete;
  ~owning_pointer_set() {
    for (T* p : set_)
      delete p;
  }

  // The object keyed `k`, or nullptr.
  T* find(const Key& k) const noexcept {
    auto it = set_.find(k);
    return it == set_.end() ? nullptr : *it;
  }
  // Kept until erased or taken; its key must not be in the set.
  void insert(std::unique_ptr<T> p) {
    set_.insert(p.get());
    p.release();
  }
  // Out of the set, to the caller (null when `k` is not in it).
  std::unique_ptr<T> take(const Key& k) {
    auto it = set_.find(k);
    if (it == set_.end())
      return nullptr;
    std::unique_ptr<T> p(*it);
    set_.erase(it);
    return p;
  }
  void erase(const Key& k) { take(k); }
  std::size_t size() const noexcept { return set_.size(); }

private:
  pointer_set<T, Key, KeyOf> set_;
};

} // namespace thingport::broker
