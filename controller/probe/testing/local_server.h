// Small real servers on 127.0.0.1 for the probe tests: a TCP listener that
// answers each connection with what a function returns for the request
// head, plain or over TLS (a self-signed certificate made by the openssl
// tool). Header-only; test code.
#ifndef BERTH_CONTROLLER_PROBE_TESTING_LOCAL_SERVER_H_
#define BERTH_CONTROLLER_PROBE_TESTING_LOCAL_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace berth::controller::testing {

class LocalServer {
 public:
  // The response for a request head ("GET / HTTP/1.1\r\n...\r\n\r\n");
  // empty: read until the client goes (a server that hangs).
  using Respond = std::function<std::string(const std::string& request)>;

  // `tls_dir`: a directory holding cert.pem and key.pem; empty: plain.
  explicit LocalServer(Respond respond, const std::string& tls_dir = "")
      : respond_(std::move(respond)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 64);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (!tls_dir.empty()) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate_file(ctx_, (tls_dir + "/cert.pem").c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_, (tls_dir + "/key.pem").c_str(), SSL_FILETYPE_PEM);
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~LocalServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }

  int port() const { return port_; }
  std::vector<std::string> Requests() {
    absl::MutexLock l(&mu_);
    return requests_;
  }

  // Writes a self-signed certificate for localhost into `dir`.
  static bool MakeCertificate(const std::string& dir) {
    const std::string cmd = absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout ", dir,
        "/key.pem -out ", dir, "/cert.pem >/dev/null 2>&1");
    return std::system(cmd.c_str()) == 0;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_) return;
        continue;
      }
      SSL* ssl = nullptr;
      if (ctx_ != nullptr) {
        ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) {
          SSL_free(ssl);
          close(c);
          continue;
        }
      }
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos && !stop_) {
        pollfd p{c, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        int n = ssl != nullptr ? SSL_read(ssl, buf, sizeof(buf))
                               : static_cast<int>(read(c, buf, sizeof(buf)));
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      {
        absl::MutexLock l(&mu_);
        requests_.push_back(head);
      }
      std::string out = respond_(head);
      if (out.empty()) {
        // Hang: hold the connection until the client closes it.
        for (int i = 0; i < 300 && !stop_; ++i) {
          pollfd p{c, POLLIN, 0};
          if (poll(&p, 1, 100) > 0 && read(c, buf, sizeof(buf)) <= 0) break;
        }
      } else if (ssl != nullptr) {
        SSL_write(ssl, out.data(), static_cast<int>(out.size()));
      } else {
        (void)!write(c, out.data(), out.size());
      }
      if (ssl != nullptr) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      close(c);
    }
  }

  Respond respond_;
  int fd_ = -1;
  int port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
};

inline std::string HttpResponse(int code, const std::string& body,
                                const std::string& extra_headers = "") {
  return absl::StrCat("HTTP/1.1 ", code, " X\r\nContent-Length: ", body.size(), "\r\n",
                      extra_headers, "Connection: close\r\n\r\n", body);
}

}  // namespace berth::controller::testing

#endif  // BERTH_CONTROLLER_PROBE_TESTING_LOCAL_SERVER_H_
