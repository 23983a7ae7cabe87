// Reading the small files asked for every container at every relist (a
// /proc file, a cgroup file, a record of a few hundred bytes) with as few
// system calls as possible.
#ifndef BERTH_RUNTIME_SYS_SMALL_FILE_H_
#define BERTH_RUNTIME_SYS_SMALL_FILE_H_

#include <cstddef>
#include <optional>
#include <string>

namespace berth::runtime {

// Reads a file of at most `max_bytes` with one read(2), a short read being
// its end (true of regular files and of /proc and cgroup files that fit in
// the buffer): open, read, close. nullopt when it cannot be opened or read
// or holds more than `max_bytes`; no error text is made.
std::optional<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 4096);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_SYS_SMALL_FILE_H_
