// Fuzzes what a watch stream brings an informer: bytes arriving in chunks
// of any size, split into lines (DeliverLines) and decoded as events
// (DecodeWatchEvent). The first input byte picks the chunk size. Properties:
// the lines do not depend on how the bytes were chunked (the same as
// splitting the whole stream at once); no line is empty or holds a '\n';
// an event decoded has a JSON object and the key and resourceVersion of it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controller/kube/list_watch.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "kube_watch_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

std::vector<std::string> Split(absl::string_view stream, size_t chunk) {
  std::vector<std::string> lines;
  std::string pending;
  auto collect = [&](absl::string_view line) {
    lines.emplace_back(line);
    return true;
  };
  for (size_t at = 0; at < stream.size(); at += chunk) {
    const absl::string_view piece = stream.substr(at, chunk);
    pending.append(piece.data(), piece.size());
    Check(berth::kube::DeliverLines(&pending, collect), "DeliverLines goes on");
    Check(pending.find('\n') == std::string::npos, "only an unterminated rest is left");
  }
  // End of stream: the rest is a last line (as ApiClient::Watch does).
  pending.push_back('\n');
  berth::kube::DeliverLines(&pending, collect);
  Check(pending.empty(), "everything delivered at the end");
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 97;
  const absl::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<std::string> lines = Split(stream, chunk);
  Check(lines == Split(stream, stream.size() + 1), "lines do not depend on chunking");
  for (const std::string& line : lines) {
    Check(!line.empty() && line.find('\n') == std::string::npos, "lines are single, not empty");
    absl::StatusOr<berth::kube::WatchEvent> event = berth::kube::DecodeWatchEvent(line);
    if (!event.ok()) continue;
    Check(event->object.is_object(), "an event carries an object");
    Check(event->key == berth::kube::ObjectKey(event->object), "the event's key is its object's");
    Check(event->resource_version == berth::kube::ResourceVersionOf(event->object),
          "the event's resourceVersion is its object's");
    if (event->type != "ERROR") Check(event->code == 0, "only ERROR events have a code");
  }

  // Stopping at a line leaves what follows it.
  std::string pending(stream);
  int calls = 0;
  const bool went_on = berth::kube::DeliverLines(&pending, [&](absl::string_view) {
    ++calls;
    return false;
  });
  Check(went_on == (calls == 0), "false only when the callback said stop");
  return 0;
}
