// berthctl get of a node whose List answer is larger than gRPC's default
// receive limit (4 MB): the real berthctl binary against berthd's read side
// (ApiServer, BerthService and a NodeView filled as the reconciler fills
// it) on a unix socket in a temporary directory. No container runs.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/api/node_view.h"
#include "controller/api/server.h"
#include "controller/api/service.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"

namespace berth::berthctl {
namespace {

class ReadOnlyBackend : public api::ApiBackend {
 public:
  explicit ReadOnlyBackend(const api::NodeView* view) : view_(view) {}
  api::NodeInfo Node() const override { return {"test", "standalone", "test"}; }
  const api::NodeView* View() const override { return view_; }
  absl::StatusOr<std::vector<api::AppliedObject>> Apply(absl::string_view, absl::string_view,
                                                        bool) override {
    return absl::UnimplementedError("reads only");
  }
  absl::StatusOr<std::string> Delete(const std::string&, const std::string&) override {
    return absl::UnimplementedError("reads only");
  }
  absl::Status Restart(const std::string&, const std::string&) override {
    return absl::UnimplementedError("reads only");
  }
  absl::StatusOr<api::NodePlanResult> Plan(absl::string_view, absl::string_view) override {
    return absl::UnimplementedError("reads only");
  }

 private:
  const api::NodeView* view_;
};

// `n` Running containers, each as large as a manifest's usually is.
void Fill(api::NodeView& view, int n) {
  for (int i = 0; i < n; ++i) {
    controller::NodeContainer o;
    o.metadata.name = absl::StrCat("ticker-", i);
    o.metadata.labels = {{"app", "ticker"}, {"shard", absl::StrCat(i % 10)}};
    o.spec.image = "registry.local:5000/busybox:1.36";
    o.spec.command = {"sh", "-c", "while true; do date; sleep 1; done"};
    o.source = absl::StrCat("/etc/berth/manifests/ticker-", i, ".yaml:1");
    o.origin = "manifests";
    const std::string id = controller::ContainerIdFor(o.metadata);
    view.ObserveDesired(id, o);
    controller::ContainerReport r;
    r.id = r.container_id = id;
    r.namespace_ = "default";
    r.name = o.metadata.name;
    r.phase = "Running";
    r.image = o.spec.image;
    r.pid = 10000 + i;
    r.created_at = r.started_at = absl::Now();
    view.Report(r);
  }
}

TEST(BerthctlListSizeTest, GetReadsAListLargerThanFourMegabytes) {
  char dir_template[] = "/tmp/berthctl-list-size.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  ASSERT_NE(dir, nullptr);
  const std::string socket = std::string(dir) + "/berth.sock";
  constexpr int kContainers = 12000;
  api::NodeView view(controller::RealClock());
  Fill(view, kContainers);
  ReadOnlyBackend backend(&view);
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
    EXPECT_EQ(std::vector<std::string>(absl::StrSplit(r->output, '\n', absl::SkipEmpty())).size(),
              size_t{kContainers} + 1);
    server.Stop();
  }
  unlink(socket.c_str());
  EXPECT_EQ(rmdir(dir), 0);
}

}  // namespace
}  // namespace berth::berthctl
