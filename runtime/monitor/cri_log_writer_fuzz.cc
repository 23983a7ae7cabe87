// Fuzzes the CRI log writer berth-monitor writes container output with
// (CriLineSplitter into CriLogWriter), against the reader the API uses
// (runtime/logs ParseLogEntry and LineJoiner). The input picks the line
// cap, the file cap and chunks of stdout and stderr output. Properties:
// every line of every file (rotated ones oldest first) parses as an entry
// with the timestamp given; no file exceeds the cap; and, when no rotated
// file was dropped, each stream's entries (F adding the newline) and
// joined lines give back exactly the output, a newline added at the end
// when the output ended without one.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzzer/FuzzedDataProvider.h"
#include "runtime/logs/log_parser.h"
#include "runtime/monitor/cri_log_writer.h"
#include "tests/fuzz_scratch.h"

namespace {

namespace logs = berth::runtime::logs;
using berth::monitor::CriLineSplitter;
using berth::monitor::CriLogWriter;
using berth::monitor::LogStream;

constexpr int kMaxFiles = 16;
constexpr char kTimestamp[] = "2026-12-03T20:00:00.123456789Z";
std::string dir;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "cri_log_writer_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dir = ::berth::testing::FuzzScratchDir("cri-log-fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const size_t max_line = in.ConsumeIntegralInRange<size_t>(1, 64);
  const int64_t max_bytes = in.ConsumeIntegralInRange<int64_t>(128, 65536);
  const std::string path = dir + "/container.log";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::string output[2];
  {
    CriLogWriter writer(path, max_bytes, kMaxFiles);
    std::string error;
    Check(writer.Open(&error), "open the log file");
    CriLineSplitter out(LogStream::kStdout, &writer, max_line);
    CriLineSplitter err(LogStream::kStderr, &writer, max_line);
    while (in.remaining_bytes() > 0) {
      const bool to_stderr = in.ConsumeBool();
      const std::string chunk = in.ConsumeRandomLengthString(256);
      (to_stderr ? err : out).Consume(kTimestamp, chunk.data(), chunk.size());
      output[to_stderr ? 1 : 0] += chunk;
      if (in.ConsumeBool()) writer.Flush();
    }
    out.Finish(kTimestamp);
    err.Finish(kTimestamp);
    writer.Flush();
  }

  const bool dropped = std::filesystem::exists(absl::StrCat(path, ".", kMaxFiles - 1));
  std::string entries[2], joined[2];
  logs::LineJoiner joiner([&](logs::LogLine line) {
    std::string& s = joined[line.stream == logs::LogStream::kStderr ? 1 : 0];
    s += line.content;
    if (!line.partial) s += '\n';
  });
  const int64_t header = static_cast<int64_t>(sizeof(kTimestamp) - 1 + 10 + 1);
  for (int i = kMaxFiles - 1; i >= 0; --i) {
    const std::string file = i == 0 ? path : absl::StrCat(path, ".", i);
    if (!std::filesystem::exists(file)) continue;
    const std::string text = ReadAll(file);
    Check(static_cast<int64_t>(text.size()) <= max_bytes || max_bytes <= header,
          "files stay under the cap");
    Check(text.empty() || text.back() == '\n', "files hold whole entries");
    absl::string_view rest(text);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      const absl::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl + 1);
      logs::LogEntry entry;
      Check(logs::ParseLogEntry(line, &entry), "every line parses back");
      Check(entry.timestamp == kTimestamp, "the timestamp is the one given");
      std::string& s = entries[entry.stream == logs::LogStream::kStderr ? 1 : 0];
      s.append(entry.content.data(), entry.content.size());
      if (!entry.partial) s += '\n';
      joiner.Add(entry);
    }
  }
  joiner.Flush();
  if (dropped) return 0;
  for (int s = 0; s < 2; ++s) {
    std::string want = output[s];
    if (!want.empty() && want.back() != '\n') want += '\n';
    Check(entries[s] == want, "the entries give back the output");
    Check(joined[s] == want, "the joined lines give back the output");
  }
  return 0;
}
