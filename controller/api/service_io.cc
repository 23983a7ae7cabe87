// BerthService's Logs and Exec: a container's CRI log files through
// runtime/logs, and commands through the runtime's ExecSession.
#include <signal.h>

#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/api/server.h"
#include "controller/api/service.h"
#include "runtime/logs/log_reader.h"

namespace berth::api {
namespace {

// Lines sent in one LogChunk at most, and bytes of content.
constexpr int kMaxChunkLines = 512;
constexpr size_t kMaxChunkBytes = 256 * 1024;
// After the exit was sent, how long the client may take to end its side.
constexpr absl::Duration kInputDrainTimeout = absl::Seconds(1);

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// The namespace and name of `ref`; INVALID_ARGUMENT without a name.
grpc::Status RefOf(const v1::ObjectRef& ref, std::string* namespace_, std::string* name) {
  if (ref.name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ref.name: required");
  }
  *namespace_ = ref.namespace_().empty() ? "default" : ref.namespace_();
  *name = ref.name();
  return grpc::Status::OK;
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1000000000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return ts;
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

bool WriterAlive(const absl::StatusOr<runtime::ContainerStatus>& st) {
  return st.ok() && st->state != runtime::ContainerState::kStopped &&
         !(st->state == runtime::ContainerState::kUnknown && st->reason == "Deleting");
}

}  // namespace

grpc::Status BerthService::Logs(grpc::ServerContext* context, const v1::LogsRequest* request,
                                grpc::ServerWriter<v1::LogChunk>* writer) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  std::string namespace_, name;
  if (grpc::Status s = RefOf(request->ref(), &namespace_, &name); !s.ok()) return s;
  absl::StatusOr<runtime::ContainerStatus> st = backend_->ContainerState(namespace_, name);
  if (!st.ok()) return ToGrpc(st.status());

  runtime::logs::LogReadOptions options;
  options.follow = request->follow();
  options.tail_lines = request->tail_lines() < 0 ? -1 : request->tail_lines();
  if (request->has_since_time()) options.since = FromProto(request->since_time());
  options.include_stdout = request->stream() != v1::LogsRequest::STDERR;
  options.include_stderr = request->stream() != v1::LogsRequest::STDOUT;

  v1::LogChunk chunk;
  size_t chunk_bytes = 0;
  bool client_gone = false;
  auto send = [&] {
    if (chunk.lines_size() == 0 || client_gone) return;
    if (!writer->Write(chunk)) client_gone = true;
    chunk.Clear();
    chunk_bytes = 0;
  };
  runtime::logs::FollowControl control;
  control.cancelled = [&] { return client_gone || context->IsCancelled(); };
  control.writer_alive = [&] { return WriterAlive(backend_->ContainerState(namespace_, name)); };
  control.caught_up = send;
  absl::Status s = runtime::logs::ReadLogs(
      st->log_path, options, control, [&](const runtime::logs::LogLine& line) {
        v1::LogLine* out = chunk.add_lines();
        if (request->timestamps()) *out->mutable_time() = ToProto(line.time);
        out->set_stream(runtime::logs::LogStreamName(line.stream));
        out->set_content(line.content);
        chunk_bytes += line.content.size();
        if (chunk.lines_size() >= kMaxChunkLines || chunk_bytes >= kMaxChunkBytes) send();
        return !client_gone;
      });
  send();
  // No log yet (a container being created): nothing to show.
  if (!s.ok() && !absl::IsNotFound(s)) {
    return ToGrpc(
        absl::Status(s.code(), absl::StrCat("logs of ", namespace_, "/", name, ": ", s.message())));
  }
  if (context->IsCancelled()) return grpc::Status::CANCELLED;
  return grpc::Status::OK;
}

grpc::Status BerthService::Exec(grpc::ServerContext* context,
                                grpc::ServerReaderWriter<v1::ExecOutput, v1::ExecInput>* stream) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kAdmin); !s.ok()) return s;
  v1::ExecInput first;
  if (!stream->Read(&first)) return grpc::Status::CANCELLED;
  if (!first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "exec: the first message must be an ExecStart");
  }
  const v1::ExecStart& start = first.start();
  std::string namespace_, name;
  if (grpc::Status s = RefOf(start.ref(), &namespace_, &name); !s.ok()) return s;
  if (start.command().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "exec: command: required");
  }
  runtime::ExecOptions options;
  options.args.assign(start.command().begin(), start.command().end());
  options.tty = start.tty();
  options.open_stdin = start.stdin();
  options.rows = static_cast<uint16_t>(start.size().rows());
  options.cols = static_cast<uint16_t>(start.size().cols());
  if (start.has_timeout()) {
    const absl::Duration timeout =
        absl::Seconds(start.timeout().seconds()) + absl::Nanoseconds(start.timeout().nanos());
    if (timeout < absl::ZeroDuration()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "exec: timeout: negative");
    }
    if (timeout > absl::ZeroDuration()) options.timeout = timeout;
  }
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> started =
      backend_->Exec(namespace_, name, options);
  if (!started.ok()) return ToGrpc(started.status());
  runtime::ExecSession& session = **started;

  // Input: stdin and resizes until the client ends its side; a cancelled
  // call (the client gone, berthd stopping) kills the process.
  absl::Notification session_done, input_done;
  std::thread input([&] {
    absl::Cleanup done = [&] { input_done.Notify(); };
    v1::ExecInput in;
    while (stream->Read(&in)) {
      if (in.has_resize()) {
        session
            .Resize(static_cast<uint16_t>(in.resize().rows()),
                    static_cast<uint16_t>(in.resize().cols()))
            .IgnoreError();  // without a terminal: nothing to resize
      } else if (in.input_case() == v1::ExecInput::kStdin) {
        session.WriteStdin(in.stdin()).IgnoreError();  // the process may have closed it
      } else if (in.close_stdin()) {
        session.CloseStdin();
      }
    }
    if (context->IsCancelled()) {
      session.Cancel();
      return;
    }
    session.CloseStdin();
    // The client has ended its side but may still go away.
    while (!session_done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      if (context->IsCancelled()) {
        session.Cancel();
        return;
      }
    }
  });

  absl::StatusOr<int> code = session.Wait([&](runtime::ExecStream which, absl::string_view data) {
    v1::ExecOutput out;
    if (which == runtime::ExecStream::kStdout) {
      out.set_stdout(data.data(), data.size());
    } else {
      out.set_stderr(data.data(), data.size());
    }
    return stream->Write(out);
  });
  session_done.Notify();
  grpc::Status result = grpc::Status::OK;
  v1::ExecOutput out;
  v1::ExecExit* exit = out.mutable_exit();
  if (code.ok()) {
    exit->set_exit_code(*code);
  } else if (absl::IsDeadlineExceeded(code.status())) {
    exit->set_exit_code(128 + SIGKILL);
    exit->set_reason("timeout");
  } else if (absl::IsFailedPrecondition(code.status())) {
    // runc could not start the command (its message went to the output
    // already); codes as a shell's and docker's: 127 not found, else 126.
    const bool not_found = absl::StrContains(code.status().message(), "not found") ||
                           absl::StrContains(code.status().message(), "no such file");
    exit->set_exit_code(not_found ? 127 : 126);
    exit->set_reason(std::string(code.status().message()));
  } else if (absl::IsCancelled(code.status())) {
    result = grpc::Status::CANCELLED;
  } else {
    result =
        ToGrpc(absl::Status(code.status().code(), absl::StrCat("exec in ", namespace_, "/", name,
                                                               ": ", code.status().message())));
  }
  if (result.ok()) stream->Write(out);
  // The input thread ends when the client ends its side (berthctl does
  // once it has the exit) or the call ends; a client that does neither
  // is cut off.
  if (!input_done.WaitForNotificationWithTimeout(kInputDrainTimeout)) context->TryCancel();
  input.join();
  return result;
}

}  // namespace berth::api
