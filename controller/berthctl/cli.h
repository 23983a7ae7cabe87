// berthctl's shared parts: the connection to berthd's socket, kubectl-style
// errors and exit codes, and the table of commands (one file each:
// cmd_<verb>.cc).
//
// Exit codes as kubectl's: 0 on success, 1 on any error (a usage error, an
// error from berthd, berthd unreachable); `exec` exits with the remote
// command's code; `diff` with 0 (no differences), 1 (differences) or 2 (an
// error). Errors go to stderr as kubectl writes them:
//   error: <what is wrong with the command line or the connection>
//   Error from server (<Reason>): <berthd's message>
#ifndef BERTH_CONTROLLER_BERTHCTL_CLI_H_
#define BERTH_CONTROLLER_BERTHCTL_CLI_H_

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "berth/v1/berth.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace berth::berthctl {

inline constexpr char kDefaultSocket[] = "/run/berth/berth.sock";

class Cli {
 public:
  Cli(std::string socket, std::ostream& out, std::ostream& err)
      : socket_(std::move(socket)), out_(out), err_(err) {}

  const std::string& socket() const { return socket_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // The API's stub over the socket (connected on first use; answers of any
  // size are accepted).
  v1::Berth::Stub& Api();

  // A context for a unary call: a 30 s deadline.
  static void SetUnaryDeadline(grpc::ClientContext* context);

  // Prints a failed call and returns 1: "error: cannot reach berthd ..."
  // when the socket cannot be reached, else "Error from server (<Reason>):
  // <message>", Reason as kubectl's (NotFound, Forbidden, Invalid, ...).
  int Fail(const grpc::Status& status);
  // Prints "error: <message>" and returns 1.
  int Fail(const absl::Status& status);
  int Fail(const std::string& message);

 private:
  std::string socket_;
  std::ostream& out_;
  std::ostream& err_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Berth::Stub> stub_;
};

// kubectl's reason for a gRPC status code ("NotFound", "Forbidden", ...).
const char* ReasonOf(grpc::StatusCode code);

using CommandFn = int (*)(Cli& cli, const std::vector<std::string>& argv);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

// The commands, in the order `berthctl --help` lists them.
const std::vector<Command>& Commands();

int RunVersion(Cli& cli, const std::vector<std::string>& argv);
int RunGet(Cli& cli, const std::vector<std::string>& argv);
int RunDescribe(Cli& cli, const std::vector<std::string>& argv);
int RunEvents(Cli& cli, const std::vector<std::string>& argv);
int RunApply(Cli& cli, const std::vector<std::string>& argv);
int RunDelete(Cli& cli, const std::vector<std::string>& argv);
int RunDiff(Cli& cli, const std::vector<std::string>& argv);
int RunRestart(Cli& cli, const std::vector<std::string>& argv);
int RunLogs(Cli& cli, const std::vector<std::string>& argv);
int RunExec(Cli& cli, const std::vector<std::string>& argv);
int RunTop(Cli& cli, const std::vector<std::string>& argv);

}  // namespace berth::berthctl

#endif  // BERTH_CONTROLLER_BERTHCTL_CLI_H_
