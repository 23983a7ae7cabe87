#include "controller/probe/real_action_runner.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "controller/probe/testing/local_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/exec/exec_session.h"

namespace berth::controller {
namespace {

using ::testing::HasSubstr;
using testing::HttpResponse;
using testing::LocalServer;

// A runtime whose one container "c1" is a process of the test's choice
// (berthd's own: host network), and whose Exec runs the command on the
// node through ExecSession (a shell stands in for runc and writes the pid
// file runc would).
class FakeRuntime : public runtime::Runtime {
 public:
  absl::Status Create(const runtime::ContainerSpec&) override { return absl::OkStatus(); }
  absl::Status Start(const std::string&) override { return absl::OkStatus(); }
  absl::Status Stop(const std::string&, absl::Duration) override { return absl::OkStatus(); }
  absl::Status Delete(const std::string&) override { return absl::OkStatus(); }
  absl::StatusOr<runtime::ContainerStatus> State(const std::string& id) override {
    if (id != "c1") return absl::NotFoundError("no such container");
    runtime::ContainerStatus s;
    s.id = id;
    s.state = runtime::ContainerState::kRunning;
    s.pid = pid;
    return s;
  }
  absl::StatusOr<std::vector<runtime::ContainerStatus>> List() override {
    return std::vector<runtime::ContainerStatus>();
  }
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> Exec(
      const std::string& id, const runtime::ExecOptions& options) override {
    if (id != "c1") return absl::NotFoundError("no such container");
    char dir[] = "/tmp/probe-exec.XXXXXX";
    if (mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp");
    const std::string pid_file = std::string(dir) + "/pid";
    std::vector<std::string> argv = {"/bin/sh", "-c", "echo $$ > " + pid_file + "; exec \"$@\"",
                                     "sh"};
    argv.insert(argv.end(), options.args.begin(), options.args.end());
    return runtime::ExecSession::Start(argv, options, pid_file, std::string(dir) + "/log", dir);
  }
  int pid = getpid();
};

class RunnerTest : public ::testing::Test {
 protected:
  ActionResult Http(int port, const std::string& path = "/", HttpScheme scheme = HttpScheme::kHttp,
                    std::vector<HttpHeader> headers = {}) {
    Handler h;
    h.http_get = HttpGetAction{path, PortRef{port, ""}, "", scheme, std::move(headers)};
    return runner_.Run(h, target_, absl::Seconds(2));
  }
  ActionResult Exec(std::vector<std::string> command, absl::Duration timeout) {
    Handler h;
    h.exec = ExecAction{std::move(command)};
    return runner_.Run(h, target_, timeout);
  }

  FakeRuntime runtime_;
  RealActionRunner runner_{runtime_, RealActionRunnerOptions{"berth-probe/test"}};
  ActionTarget target_{"c1", "", {}};
};

TEST_F(RunnerTest, HttpSuccessSendsHeadersAndReturnsTheBody) {
  LocalServer server([](const std::string&) { return HttpResponse(200, "all good"); });
  ActionResult r = Http(server.port(), "/healthz?x=1", HttpScheme::kHttp,
                        {{"X-Custom", "yes"}, {"Accept", "application/json"}});
  EXPECT_TRUE(r.success) << r.output;
  EXPECT_EQ(r.output, "all good");
  ASSERT_EQ(server.Requests().size(), 1u);
  const std::string req = server.Requests()[0];
  EXPECT_THAT(req, HasSubstr("GET /healthz?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(req, HasSubstr(absl::StrCat("Host: 127.0.0.1:", server.port(), "\r\n")));
  EXPECT_THAT(req, HasSubstr("User-Agent: berth-probe/test\r\n"));
  EXPECT_THAT(req, HasSubstr("Accept: application/json\r\n"));
  EXPECT_THAT(req, HasSubstr("X-Custom: yes\r\n"));
}

TEST_F(RunnerTest, HttpStatusOutside200To399Fails) {
  LocalServer server([](const std::string&) { return HttpResponse(500, "boom"); });
  ActionResult r = Http(server.port());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.output, "HTTP probe failed with statuscode: 500");
  LocalServer redirect_loop(
      [](const std::string&) { return HttpResponse(302, "", "Location: /again\r\n"); });
  r = Http(redirect_loop.port());
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("stopped after 10 redirects"));
}

TEST_F(RunnerTest, HttpRedirectsFollowedOnTheSameHostOnly) {
  LocalServer server([](const std::string& req) {
    if (absl::StartsWith(req, "GET /old ")) return HttpResponse(301, "", "Location: /new\r\n");
    if (absl::StartsWith(req, "GET /away ")) {
      return HttpResponse(302, "elsewhere", "Location: http://example.invalid/x\r\n");
    }
    if (absl::StartsWith(req, "GET /new ")) return HttpResponse(503, "");
    return HttpResponse(404, "");
  });
  ActionResult r = Http(server.port(), "/old");
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.output, "HTTP probe failed with statuscode: 503");
  r = Http(server.port(), "/away");
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.output, "Probe terminated redirects, Response body: elsewhere");
}

TEST_F(RunnerTest, HttpsWithoutCertificateVerification) {
  char dir[] = "/tmp/probe-tls.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ASSERT_TRUE(LocalServer::MakeCertificate(dir));
  {
    LocalServer server([](const std::string&) { return HttpResponse(200, "secure"); }, dir);
    ActionResult r = Http(server.port(), "/", HttpScheme::kHttps);
    EXPECT_TRUE(r.success) << r.output;
    EXPECT_EQ(r.output, "secure");
    // Plain HTTP to a TLS port is a failure, not a hang.
    EXPECT_FALSE(Http(server.port()).success);
  }
  std::system(absl::StrCat("rm -rf ", dir).c_str());
}

TEST_F(RunnerTest, HttpRefusedAndTimedOut) {
  int port;
  {
    LocalServer gone([](const std::string&) { return HttpResponse(200, ""); });
    port = gone.port();
  }
  ActionResult r = Http(port);
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("connection refused"));
  LocalServer hang([](const std::string&) { return std::string(); });
  Handler h;
  h.http_get = HttpGetAction{"/", PortRef{hang.port(), ""}, "", HttpScheme::kHttp, {}};
  const absl::Time t0 = absl::Now();
  r = runner_.Run(h, target_, absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("deadline exceeded"));
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Seconds(1));
}

TEST_F(RunnerTest, HttpPortByName) {
  LocalServer server([](const std::string&) { return HttpResponse(204, ""); });
  ContainerPort p;
  p.name = "web";
  p.container_port = server.port();
  target_.ports = {p};
  Handler h;
  h.http_get = HttpGetAction{"/", PortRef{0, "web"}, "", HttpScheme::kHttp, {}};
  EXPECT_TRUE(runner_.Run(h, target_, absl::Seconds(1)).success);
  h.http_get->port = PortRef{0, "nope"};
  ActionResult r = runner_.Run(h, target_, absl::Seconds(1));
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("no port named \"nope\""));
}

TEST_F(RunnerTest, TcpSocket) {
  LocalServer server([](const std::string&) { return HttpResponse(200, ""); });
  Handler h;
  h.tcp_socket = TcpSocketAction{PortRef{server.port(), ""}, "127.0.0.1"};
  EXPECT_TRUE(runner_.Run(h, target_, absl::Seconds(1)).success);
  int port;
  {
    LocalServer gone([](const std::string&) { return HttpResponse(200, ""); });
    port = gone.port();
  }
  h.tcp_socket = TcpSocketAction{PortRef{port, ""}, ""};
  ActionResult r = runner_.Run(h, target_, absl::Seconds(1));
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("connection refused"));
}

TEST_F(RunnerTest, GrpcHealthCheck) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  grpc::CallbackGenericService unimplemented;  // a server needs one service
  builder.RegisterCallbackGenericService(&unimplemented);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(port, 0);
  server->GetHealthCheckService()->SetServingStatus("db", false);
  Handler h;
  h.grpc = GrpcAction{port, ""};
  ActionResult r = runner_.Run(h, target_, absl::Seconds(2));
  EXPECT_TRUE(r.success) << r.output;
  h.grpc->service = "db";
  r = runner_.Run(h, target_, absl::Seconds(2));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.output, "service unhealthy (responded with \"NOT_SERVING\")");
  server->GetHealthCheckService()->SetServingStatus("db", true);
  EXPECT_TRUE(runner_.Run(h, target_, absl::Seconds(2)).success);
  h.grpc->service = "unknown";
  r = runner_.Run(h, target_, absl::Seconds(2));
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("health rpc probe failed"));
  server->Shutdown();
}

TEST_F(RunnerTest, ExecExitCodeAndOutput) {
  ActionResult r = Exec({"true"}, absl::Seconds(5));
  EXPECT_TRUE(r.success) << r.output;
  r = Exec({"sh", "-c", "echo not ready; echo on stderr >&2; exit 3"}, absl::Seconds(5));
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("not ready\n"));
  EXPECT_THAT(r.output, HasSubstr("on stderr\n"));
  r = Exec({"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, absl::Seconds(5));
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.output.size(), kMaxActionOutputBytes);
}

// Alive and not a zombie (an orphan's reaping is its new parent's business).
bool Alive(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' &&
         stat[paren + 2] != 'X';
}

TEST_F(RunnerTest, ExecTimeoutKillsTheProcessAndWhatItStarted) {
  char dir[] = "/tmp/probe-hang.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string f = std::string(dir) + "/pids";
  const absl::Time t0 = absl::Now();
  ActionResult r =
      Exec({"sh", "-c", "sleep 1000 & echo $! > " + f + "; echo $$ >> " + f + "; wait"},
           absl::Milliseconds(500));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.output, HasSubstr("timed out"));
  std::ifstream in(f);
  int n = 0;
  for (pid_t pid; in >> pid; ++n) EXPECT_FALSE(Alive(pid)) << pid;
  EXPECT_EQ(n, 2);
  std::system(absl::StrCat("rm -rf ", dir).c_str());
}

// A process in a network namespace of its own (only loopback, up) serving
// HTTP on 127.0.0.1:`port` there: a container without CNI.
pid_t StartInNetns(int port, int ready_fd) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (unshare(CLONE_NEWNET) != 0) _exit(1);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq ifr{};
  strcpy(ifr.ifr_name, "lo");
  ioctl(s, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) _exit(2);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 8) != 0) _exit(3);
  (void)!write(ready_fd, "r", 1);
  static const char kResp[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ninside";
  for (int i = 0; i < 100; ++i) {
    int c = accept(l, nullptr, nullptr);
    if (c < 0) continue;
    char buf[2048];
    (void)!read(c, buf, sizeof(buf));
    (void)!write(c, kResp, sizeof(kResp) - 1);
    close(c);
  }
  _exit(0);
}

TEST_F(RunnerTest, ReachesAContainerInsideItsOwnNetworkNamespace) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (unshare, setns)";
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const int port = 18000 + getpid() % 1000;
  const pid_t child = StartInNetns(port, pipefd[1]);
  ASSERT_GT(child, 0);
  runtime_.pid = child;
  close(pipefd[1]);
  char c;
  ASSERT_EQ(read(pipefd[0], &c, 1), 1);
  close(pipefd[0]);
  ActionResult r = Http(port);
  EXPECT_TRUE(r.success) << r.output;
  EXPECT_EQ(r.output, "inside");
  Handler h;
  h.tcp_socket = TcpSocketAction{PortRef{port, ""}, ""};
  EXPECT_TRUE(runner_.Run(h, target_, absl::Seconds(1)).success);
  // Nothing listens on the node's loopback: the port is the container's.
  runtime_.pid = getpid();
  EXPECT_FALSE(runner_.Run(h, target_, absl::Seconds(1)).success);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace berth::controller
