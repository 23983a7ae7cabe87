// ApiServer: berthd's local gRPC API on a unix socket.
//
// The server accepts connections itself, so that it knows each caller from
// the kernel (peer_auth.h), and hands every connection to a gRPC server
// that has no listening port of its own. A handler asks CallerOf(context)
// who is calling; Authorize(context, Access) answers PERMISSION_DENIED or
// OK.
//
// The socket: created at Start (a stale file at the path is replaced),
// mode 0660, owned by root and --api-group (or root's group when none);
// the directory must exist, and with a group it is made searchable by all
// (not listable) so that the group reaches the socket. One ApiServer per
// process (CallerOf is static). Removed at Stop. Connections being served when
// Stop is called are cancelled (their streams end with CANCELLED).
#ifndef BERTH_CONTROLLER_API_SERVER_H_
#define BERTH_CONTROLLER_API_SERVER_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "controller/api/peer_auth.h"
#include "grpcpp/server.h"
#include "grpcpp/server_context.h"

namespace berth::api {

struct ServerOptions {
  std::string socket_path;
  gid_t read_group = kNoGroup;   // the socket's group
  gid_t admin_group = kNoGroup;  // may call everything, as root
};

class ApiServer {
 public:
  ApiServer(ServerOptions options, grpc::Service* service);
  ~ApiServer();  // Stop()

  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  absl::Status Start();
  void Stop();

  // The caller of a call on one of this server's connections; a caller
  // with no access when the connection is not known.
  static Caller CallerOf(const grpc::ServerContext& context);
  // OK, or PERMISSION_DENIED naming the caller and what it lacks.
  static grpc::Status Authorize(const grpc::ServerContext& context, Access needed);

 private:
  // With a read group, gives the socket's directory search permission for
  // all (0711-like) when it lacks it; the directory must exist.
  absl::Status OpenUpDirectory();
  void AcceptLoop();

  const ServerOptions options_;
  grpc::Service* const service_;
  std::unique_ptr<grpc::Server> server_;
  int listen_fd_ = -1;
  std::thread acceptor_;
  bool started_ = false;
};

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_SERVER_H_
