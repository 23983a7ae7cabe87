// berthctl get of a node whose List answer is larger than gRPC's default
// receive limit (4 MB): the real berthctl binary against berthd's read side
// (ApiServer, BerthService and a NodeView filled as the reconciler fills
// it) on a unix socket in a temporary directory. No container runs.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/api/node_view.h"
#include "controller/api/server.h"
#include "controller/api/service.h"
#include "controller/api/testing/fake_backend.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"

namespace berth::berthctl {
namespace {

TEST(BerthctlListSizeTest, GetReadsAListLargerThanFourMegabytes) {
  char dir_template[] = "/tmp/berthctl-list-size.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  ASSERT_NE(dir, nullptr);
  const std::string socket = std::string(dir) + "/berth.sock";
  constexpr int kContainers = 12000;
  api::NodeView view(controller::RealClock());
  api::testing::AddRunningContainers(view, kContainers, absl::Now());
  api::testing::ReadOnlyBackend backend({"test", "standalone", "test"}, &view);
  api::BerthService service(&backend);
  {
    api::ApiServer server(api::ServerOptions{socket}, &service);
    ASSERT_TRUE(server.Start().ok());

    // The answer is beyond gRPC's default limit: a client with the default
    // fails, as berthctl did.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    auto stub = v1::Berth::NewStub(
        grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext context;
    v1::ListResponse response;
    ASSERT_TRUE(stub->List(&context, v1::ListRequest(), &response).ok());
    ASSERT_EQ(response.items_size(), kContainers);
    EXPECT_GT(response.ByteSizeLong(), size_t{4} << 20);
    auto limited = v1::Berth::NewStub(
        grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
    grpc::ClientContext limited_context;
    v1::ListResponse limited_response;
    EXPECT_EQ(limited->List(&limited_context, v1::ListRequest(), &limited_response).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);

    absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(
        {BERTH_BERTHCTL_PATH, "--socket=" + socket, "get", "-o", "name"}, absl::Seconds(60));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 0) << r->output.substr(0, 500);
    const std::vector<std::string> lines = absl::StrSplit(r->output, '\n', absl::SkipEmpty());
    ASSERT_EQ(lines.size(), size_t{kContainers});
    EXPECT_EQ(lines[0], "nodecontainer/ticker-0");

    // The table too (the default output).
    r = runtime::RunCommand({BERTH_BERTHCTL_PATH, "--socket=" + socket, "get"}, absl::Seconds(60));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 0) << r->output.substr(0, 500);
    const std::vector<std::string> rows = absl::StrSplit(r->output, '\n', absl::SkipEmpty());
    ASSERT_EQ(rows.size(), size_t{kContainers} + 1);
    // READY as kubectl's: 1/1, or 0/1 for the tenth that is not ready.
    EXPECT_THAT(rows[0], ::testing::StartsWith("NAME "));
    const size_t ready_at = rows[0].find("READY");
    ASSERT_NE(ready_at, std::string::npos) << rows[0];
    int ready = 0, unready = 0;
    for (size_t i = 1; i < rows.size(); ++i) {
      const std::string cell = rows[i].substr(ready_at, 3);
      ready += cell == "1/1";
      unready += cell == "0/1";
      if (absl::StartsWith(rows[i], "ticker-9 ")) {
        EXPECT_EQ(cell, "0/1") << rows[i];
      }
      if (absl::StartsWith(rows[i], "ticker-0 ")) {
        EXPECT_EQ(cell, "1/1") << rows[i];
      }
    }
    EXPECT_EQ(ready, kContainers - kContainers / 10);
    EXPECT_EQ(unready, kContainers / 10);
    server.Stop();
  }
  unlink(socket.c_str());
  EXPECT_EQ(rmdir(dir), 0);
}

}  // namespace
}  // namespace berth::berthctl
