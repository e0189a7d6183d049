// Linked into the prebuilt binaries only (ASYNCUV_PORTABLE): definitions that
// keep the binary from needing a newer glibc or libstdc++ than Node 20 to 26
// themselves run on (glibc 2.28, libstdc++ of GCC 8). Each binds references
// that the compiler's headers emit to a hidden symbol inside the binary.
#include <cxxabi.h>

extern "C" {
// libstdc++'s headers (GCC 11 and later, on glibc 2.32 and later) read this
// to skip atomic reference counts. 0 means "maybe multi-threaded": the
// atomic path, always correct.
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
}

namespace std {
// std::allocator's size check calls this (GLIBCXX_3.4.29, GCC 11). The same
// exception is thrown through the C++ ABI's entry, which GCC 4.9 has.
__attribute__((visibility("hidden"), noreturn)) void __throw_bad_array_new_length() {
  __cxxabiv1::__cxa_throw_bad_array_new_length();
}
}  // namespace std
