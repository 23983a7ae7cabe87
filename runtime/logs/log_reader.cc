#include "runtime/logs/log_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/sys/unique_fd.h"

namespace berth::runtime::logs {
namespace {

// More rotated files than any writer keeps: FILE.<n> above are ignored.
constexpr int kMaxRotatedFiles = 1000;
// A "line" this long without a newline is not an entry the monitor wrote
// (its entries are at most 16 KiB and a header): dropped up to its end.
constexpr size_t kMaxEntryBytes = 1 << 20;
// Rotations handled in one pass before the reader looks at its control.
constexpr int kMaxRotationsPerPass = 64;

struct OpenFile {
  UniqueFd fd;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t offset = 0;
  std::string torn;       // the bytes after the last newline read
  bool skipping = false;  // dropping an overlong line up to its newline
};

absl::Status ErrnoError(const std::string& action, int err) {
  return absl::ErrnoToStatus(err, action);
}

class Reader {
 public:
  Reader(std::string path, const LogReadOptions& options, const FollowControl& control,
         const LineSink& sink)
      : path_(std::move(path)),
        options_(options),
        control_(control),
        sink_(sink),
        joiner_([this](LogLine line) { OnLine(std::move(line)); }) {}

  absl::Status Run();

 private:
  // Opens FILE, FILE.1, ... newest first; returns them oldest first, each
  // inode once. Stops before the file `stop_dev`/`stop_ino` (and returns
  // found=true) when it is met.
  absl::StatusOr<std::deque<OpenFile>> OpenGeneration(const OpenFile* stop, bool* found) const;
  // Reads what `file` holds now; `final`: it will not grow any more, so a
  // torn last line is parsed as it is.
  absl::Status ReadAvailable(OpenFile* file, bool final);
  void ParseLine(absl::string_view line);
  void OnLine(LogLine line);
  // Reads the queue: finished files to their end (and drops them), the live
  // one as far as it goes; then looks for a rotation or truncation of the
  // live one and repeats while one is found. `writer_gone`: the live file
  // is final too.
  absl::Status DrainAll(bool writer_gone);
  // Emits the tail kept during the backlog and switches to direct output.
  void EndBacklog();
  void WaitForChange();

  const std::string path_;
  const LogReadOptions& options_;
  const FollowControl& control_;
  const LineSink& sink_;
  LineJoiner joiner_;
  std::deque<OpenFile> files_;  // oldest first; back() is the live file
  bool backlog_ = true;         // lines go to tail_ (when tailing)
  std::deque<LogLine> tail_;
  bool stopped_ = false;  // the sink said no more
  UniqueFd inotify_;
};

// The highest N of the files FILE.N in FILE's directory; 0 when none.
int HighestRotatedIndex(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string prefix = absl::StrCat(path.substr(slash + 1), ".");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  int highest = 0;
  while (struct dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    int n = 0;
    if (absl::ConsumePrefix(&name, prefix) && absl::SimpleAtoi(name, &n) && n > highest &&
        n <= kMaxRotatedFiles) {
      highest = n;
    }
  }
  closedir(d);
  return highest;
}

absl::StatusOr<std::deque<OpenFile>> Reader::OpenGeneration(const OpenFile* stop,
                                                            bool* found) const {
  std::deque<OpenFile> out;
  if (found != nullptr) *found = false;
  // Files only move up (FILE.k -> FILE.k+1) while the writer rotates, each
  // rename leaving a hole for a moment: scanning upwards past holes meets
  // every file at least once.
  const int highest = HighestRotatedIndex(path_) + 1;
  for (int i = 0; i <= highest; ++i) {
    const std::string name = i == 0 ? path_ : absl::StrCat(path_, ".", i);
    OpenFile f;
    f.fd.Reset(open(name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!f.fd.valid()) {
      if (errno == ENOENT) continue;
      return ErrnoError(absl::StrCat("open log ", name), errno);
    }
    struct stat st;
    if (fstat(f.fd.get(), &st) != 0) return ErrnoError(absl::StrCat("stat log ", name), errno);
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    if (stop != nullptr && f.dev == stop->dev && f.ino == stop->ino) {
      if (found != nullptr) *found = true;
      break;
    }
    bool seen = false;
    for (const OpenFile& o : out) seen = seen || (o.dev == f.dev && o.ino == f.ino);
    if (!seen) out.push_front(std::move(f));
  }
  return out;
}

absl::Status Reader::ReadAvailable(OpenFile* file, bool final) {
  char buf[64 * 1024];
  while (!stopped_) {
    const ssize_t n = pread(file->fd.get(), buf, sizeof buf, file->offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(absl::StrCat("read log ", path_), errno);
    if (n == 0) break;
    file->offset += n;
    absl::string_view data(buf, static_cast<size_t>(n));
    while (!data.empty() && !stopped_) {
      const size_t nl = data.find('\n');
      if (nl == absl::string_view::npos) {
        if (!file->skipping) file->torn.append(data.data(), data.size());
        if (file->torn.size() > kMaxEntryBytes) {
          file->torn.clear();
          file->skipping = true;
        }
        break;
      }
      if (file->skipping) {
        file->skipping = false;
      } else if (file->torn.empty()) {
        ParseLine(data.substr(0, nl));
      } else {
        file->torn.append(data.data(), nl);
        ParseLine(file->torn);
        file->torn.clear();
      }
      data.remove_prefix(nl + 1);
    }
  }
  if (final && !file->torn.empty() && !stopped_) {
    ParseLine(file->torn);
    file->torn.clear();
  }
  return absl::OkStatus();
}

void Reader::ParseLine(absl::string_view line) {
  LogEntry entry;
  if (!ParseLogEntry(line, &entry)) return;
  if (entry.stream == LogStream::kStdout ? !options_.include_stdout : !options_.include_stderr) {
    return;
  }
  joiner_.Add(entry);
}

void Reader::OnLine(LogLine line) {
  if (stopped_ || line.time < options_.since) return;
  if (backlog_ && options_.tail_lines >= 0) {
    if (options_.tail_lines == 0) return;
    tail_.push_back(std::move(line));
    if (static_cast<int64_t>(tail_.size()) > options_.tail_lines) tail_.pop_front();
    return;
  }
  if (!sink_(line)) stopped_ = true;
}

void Reader::EndBacklog() {
  backlog_ = false;
  while (!tail_.empty() && !stopped_) {
    if (!sink_(tail_.front())) stopped_ = true;
    tail_.pop_front();
  }
  tail_.clear();
}

absl::Status Reader::DrainAll(bool writer_gone) {
  for (int rotations = 0; rotations <= kMaxRotationsPerPass && !stopped_; ++rotations) {
    while (files_.size() > 1 && !stopped_) {
      if (absl::Status s = ReadAvailable(&files_.front(), /*final=*/true); !s.ok()) return s;
      files_.pop_front();
    }
    if (files_.empty()) {
      bool unused;
      absl::StatusOr<std::deque<OpenFile>> opened = OpenGeneration(nullptr, &unused);
      if (!opened.ok()) return opened.status();
      files_ = *std::move(opened);
      if (files_.empty()) return absl::OkStatus();
      continue;
    }
    OpenFile& live = files_.back();
    if (absl::Status s = ReadAvailable(&live, /*final=*/false); !s.ok()) return s;
    if (!options_.follow) return absl::OkStatus();
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) {
      if (errno != ENOENT) return ErrnoError(absl::StrCat("stat log ", path_), errno);
      // Between the rename and the new file, or the container is gone.
      if (writer_gone) return ReadAvailable(&live, /*final=*/true);
      return absl::OkStatus();
    }
    if (st.st_dev == live.dev && st.st_ino == live.ino) {
      if (st.st_size < live.offset) {  // truncated: start over
        live.offset = 0;
        live.torn.clear();
        live.skipping = false;
        joiner_.Reset();
        continue;
      }
      if (writer_gone) return ReadAvailable(&live, /*final=*/true);
      return absl::OkStatus();
    }
    // Rotated: the writer finished the old file before it renamed it. What
    // appeared since, up to the old file's inode, comes after it.
    bool found = false;
    absl::StatusOr<std::deque<OpenFile>> newer = OpenGeneration(&live, &found);
    if (!newer.ok()) return newer.status();
    if (absl::Status s = ReadAvailable(&live, /*final=*/true); !s.ok()) return s;
    files_.pop_back();
    for (OpenFile& f : *newer) files_.push_back(std::move(f));
  }
  return absl::OkStatus();
}

void Reader::WaitForChange() {
  const int timeout_ms =
      static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.poll_interval)));
  if (!inotify_.valid()) {
    poll(nullptr, 0, timeout_ms);
    return;
  }
  pollfd p{inotify_.get(), POLLIN, 0};
  if (poll(&p, 1, timeout_ms) > 0) {
    alignas(inotify_event) char events[4096];
    while (read(inotify_.get(), events, sizeof events) > 0) {
    }
  }
}

absl::Status Reader::Run() {
  absl::StatusOr<std::deque<OpenFile>> opened = OpenGeneration(nullptr, nullptr);
  if (!opened.ok()) return opened.status();
  if (opened->empty())
    return absl::NotFoundError(absl::StrCat("read log ", path_, ": no such file"));
  files_ = *std::move(opened);
  if (options_.follow) {
    // Watched before the backlog is read, so no change after it is missed.
    inotify_.Reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    if (inotify_.valid() &&
        inotify_add_watch(inotify_.get(), dir.c_str(),
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0) {
      inotify_.Reset();  // polling alone still works
    }
  }
  bool writer_gone = !options_.follow || (control_.writer_alive && !control_.writer_alive());
  if (absl::Status s = DrainAll(writer_gone); !s.ok()) return s;
  if (writer_gone) joiner_.Flush();
  EndBacklog();
  while (!stopped_ && !writer_gone) {
    if (control_.caught_up) control_.caught_up();
    if (control_.cancelled && control_.cancelled()) break;
    WaitForChange();
    writer_gone = control_.writer_alive && !control_.writer_alive();
    if (absl::Status s = DrainAll(writer_gone); !s.ok()) return s;
    if (writer_gone) joiner_.Flush();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadLogs(const std::string& path, const LogReadOptions& options,
                      const FollowControl& control, const LineSink& sink) {
  return Reader(path, options, control, sink).Run();
}

}  // namespace berth::runtime::logs
