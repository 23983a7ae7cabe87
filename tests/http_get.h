// A plain HTTP/1.1 GET to 127.0.0.1 (or another IPv4 address) for tests
// (berthd's /metrics, /healthz, /readyz, Prometheus' API, a container's
// published port), and the value of one series in a scrape.
// Header-only.
#ifndef BERTH_TESTS_HTTP_GET_H_
#define BERTH_TESTS_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::testing {

struct HttpResponse {
  int code = 0;  // 0: no connection or no answer
  std::string body;
};

// GET `path` from `ip`:`port` (an IPv4 address) on a fresh connection,
// waiting at most 5 s for the connection and for each read. `path` must be
// URL-encoded already.
inline HttpResponse HttpGetAt(const std::string& ip, int port, const std::string& path) {
  HttpResponse r;
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) return r;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string raw;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req =
        absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", ip, "\r\nConnection: close\r\n\r\n");
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      for (int i = 0; i < 100000; ++i) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        raw.append(buf, n);
      }
    }
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" (no chunked encoding: both servers
  // send a Content-Length for these answers).
  const size_t head_end = raw.find("\r\n\r\n");
  if (!absl::StartsWith(raw, "HTTP/1.") || head_end == std::string::npos || raw.size() < 12) {
    return r;
  }
  if (!absl::SimpleAtoi(raw.substr(9, 3), &r.code)) r.code = 0;
  r.body = raw.substr(head_end + 4);
  return r;
}

// GET `path` from 127.0.0.1:`port`.
inline HttpResponse HttpGet(int port, const std::string& path) {
  return HttpGetAt("127.0.0.1", port, path);
}

// The value of the sample `series` (a name with its labels exactly as the
// scrape writes them, e.g. `berth_containers{phase="Running"}`) in
// Prometheus text, or nullopt when it is not there.
inline std::optional<double> SampleValue(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
  }
  return std::nullopt;
}

}  // namespace berth::testing

#endif  // BERTH_TESTS_HTTP_GET_H_
