#include "controller/api/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_posix.h"
#include "spdlog/spdlog.h"

namespace berth::api {
namespace {

// Callers by the fd of their connection (gRPC names a connection it was
// given by fd "fd:<n>" in ServerContext::peer()). An fd number is reused
// only after gRPC closed the connection, when no call of it is left.
struct Registry {
  absl::Mutex mu;
  std::map<int, Caller> callers ABSL_GUARDED_BY(mu);
  ServerOptions options ABSL_GUARDED_BY(mu);
};

Registry& Callers() {
  static Registry* registry = new Registry;
  return *registry;
}

std::string Errno(const char* what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

}  // namespace

ApiServer::ApiServer(ServerOptions options, grpc::Service* service)
    : options_(std::move(options)), service_(service) {}

ApiServer::~ApiServer() { Stop(); }

absl::Status ApiServer::Start() {
  sockaddr_un addr{};
  if (options_.socket_path.empty() || options_.socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("API socket path \"", options_.socket_path,
                                                   "\" is empty or longer than ",
                                                   sizeof(addr.sun_path) - 1, " bytes"));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, options_.socket_path.data(), options_.socket_path.size());

  if (absl::Status s = OpenUpDirectory(); !s.ok()) return s;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(Errno("socket"));
  // The state directory's lock makes this berthd the only one of its node;
  // a socket file left at the path is a previous berthd's.
  if (unlink(options_.socket_path.c_str()) != 0 && errno != ENOENT) {
    absl::Status s = absl::InternalError(Errno(options_.socket_path.c_str()));
    close(fd);
    return s;
  }
  // Nobody may connect before the mode and group are right: bind with a
  // umask that leaves the socket unreachable, then open it up.
  mode_t old_umask = umask(0777);
  int bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old_umask);
  if (bound != 0) {
    absl::Status s = absl::InternalError(
        absl::StrCat("bind ", options_.socket_path, ": ", std::strerror(errno)));
    close(fd);
    return s;
  }
  if (options_.read_group != kNoGroup &&
      chown(options_.socket_path.c_str(), 0, options_.read_group) != 0) {
    absl::Status s = absl::InternalError(Errno(options_.socket_path.c_str()));
    close(fd);
    unlink(options_.socket_path.c_str());
    return s;
  }
  if (chmod(options_.socket_path.c_str(), 0660) != 0 || listen(fd, 128) != 0) {
    absl::Status s = absl::InternalError(Errno(options_.socket_path.c_str()));
    close(fd);
    unlink(options_.socket_path.c_str());
    return s;
  }

  grpc::ServerBuilder builder;
  builder.RegisterService(service_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    close(fd);
    unlink(options_.socket_path.c_str());
    return absl::InternalError("the gRPC server did not start");
  }
  {
    Registry& r = Callers();
    absl::MutexLock lock(&r.mu);
    r.options = options_;
  }
  listen_fd_ = fd;
  started_ = true;
  acceptor_ = std::thread([this] { AcceptLoop(); });
  spdlog::info("API: serving on {}", options_.socket_path);
  return absl::OkStatus();
}

absl::Status ApiServer::OpenUpDirectory() {
  std::string dir = options_.socket_path.substr(0, options_.socket_path.rfind('/'));
  if (dir.empty()) dir = "/";
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the API socket's directory ", dir, ": ", std::strerror(errno)));
  }
  if (options_.read_group == kNoGroup || (st.st_mode & 0011) == 0011) return absl::OkStatus();
  // The group reaches the socket through the directory: search, not list
  // (/run/containerd's 0711).
  if (chmod(dir.c_str(), (st.st_mode & 07777) | 0011) != 0) {
    return absl::InternalError(absl::StrCat("chmod ", dir, ": ", std::strerror(errno)));
  }
  spdlog::info(
      "API: {} may now be searched by all (mode {:o}) so that the socket's group "
      "reaches the socket",
      dir, (st.st_mode & 07777) | 0011);
  return absl::OkStatus();
}

void ApiServer::AcceptLoop() {
  for (;;) {
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        spdlog::warn("API: accept: {}", std::strerror(errno));
        usleep(100 * 1000);  // let connections close; Stop still ends the loop
        continue;
      }
      return;  // Stop shut the socket down (EINVAL)
    }
    absl::StatusOr<Caller> caller = PeerOf(conn);
    if (!caller.ok()) {
      spdlog::warn("API: {}", caller.status().ToString());
      close(conn);
      continue;
    }
    {
      Registry& r = Callers();
      absl::MutexLock lock(&r.mu);
      r.callers[conn] = *caller;
    }
    grpc::AddInsecureChannelFromFd(server_.get(), conn);  // takes the fd
  }
}

void ApiServer::Stop() {
  if (!started_) return;
  started_ = false;
  shutdown(listen_fd_, SHUT_RDWR);  // accept returns EINVAL
  acceptor_.join();
  close(listen_fd_);
  listen_fd_ = -1;
  unlink(options_.socket_path.c_str());
  server_->Shutdown(std::chrono::system_clock::now());  // cancels what runs
  server_->Wait();
  server_.reset();
  Registry& r = Callers();
  absl::MutexLock lock(&r.mu);
  r.callers.clear();
}

Caller ApiServer::CallerOf(const grpc::ServerContext& context) {
  Caller none;
  none.uid = static_cast<uid_t>(-1);
  none.gid = kNoGroup;
  std::string peer = context.peer();
  absl::string_view rest = peer;
  int fd;
  if (!absl::ConsumePrefix(&rest, "fd:") || !absl::SimpleAtoi(rest, &fd)) return none;
  Registry& r = Callers();
  absl::MutexLock lock(&r.mu);
  auto it = r.callers.find(fd);
  return it == r.callers.end() ? none : it->second;
}

grpc::Status ApiServer::Authorize(const grpc::ServerContext& context, Access needed) {
  Caller caller = CallerOf(context);
  Access has;
  {
    Registry& r = Callers();
    absl::MutexLock lock(&r.mu);
    has = AccessOf(caller, r.options.read_group, r.options.admin_group);
  }
  if (has >= needed) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat(caller.Describe(), " may not ",
                                   needed == Access::kAdmin
                                       ? "change containers (root or the API's admin group only)"
                                       : "read the API (root or the socket's group only)"));
}

}  // namespace berth::api
