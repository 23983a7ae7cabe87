#include "controller/berthd/notify.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/unique_fd.h"

namespace berth::controller {
namespace {

using ::testing::HasSubstr;

// A datagram socket bound like systemd's: at a path or an abstract name.
class Receiver {
 public:
  // `address`: "/path" or "@name".
  explicit Receiver(const std::string& address) : address_(address) {
    fd_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    address.copy(addr.sun_path, sizeof addr.sun_path - 1);
    if (address[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len = offsetof(sockaddr_un, sun_path) + address.size() + (address[0] == '/' ? 1 : 0);
    bound_ = fd_.valid() && bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~Receiver() {
    if (address_[0] == '/') unlink(address_.c_str());
  }
  bool bound() const { return bound_; }

  // The next datagram, or "<none>" when none is waiting.
  std::string Next() {
    char buf[4096];
    ssize_t n = recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? "<none>" : std::string(buf, n);
  }

 private:
  std::string address_;
  runtime::UniqueFd fd_;
  bool bound_ = false;
};

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-notify-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { rmdir(dir_.c_str()); }
  std::string dir_;
};

TEST_F(NotifyTest, ReadyStoppingAndStatusReachAPathSocket) {
  const std::string path = dir_ + "/notify.sock";
  Receiver systemd(path);
  ASSERT_TRUE(systemd.bound());
  ServiceNotifier n(path);
  EXPECT_TRUE(n.enabled());
  ASSERT_TRUE(n.Ready("running: 2 NodeContainer(s)").ok());
  EXPECT_EQ(systemd.Next(), "READY=1\nSTATUS=running: 2 NodeContainer(s)");
  // A newline in the summary must not start a KEY=value line of its own.
  ASSERT_TRUE(n.Status("one\nREADY=1").ok());
  EXPECT_EQ(systemd.Next(), "STATUS=one READY=1");
  ASSERT_TRUE(n.Stopping("shutting down").ok());
  EXPECT_EQ(systemd.Next(), "STOPPING=1\nSTATUS=shutting down");
  EXPECT_EQ(systemd.Next(), "<none>");
}

TEST_F(NotifyTest, AbstractSocket) {
  const std::string name = absl::StrCat("@berth-notify-test-", getpid());
  Receiver systemd(name);
  ASSERT_TRUE(systemd.bound());
  ASSERT_TRUE(ServiceNotifier(name).Ready("up").ok());
  EXPECT_EQ(systemd.Next(), "READY=1\nSTATUS=up");
}

TEST_F(NotifyTest, WithoutASocketNothingIsSent) {
  ServiceNotifier n("");
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.Ready("up").ok());
  EXPECT_TRUE(n.Stopping("down").ok());
}

TEST_F(NotifyTest, FromEnvironmentTakesTheVariableOutOfTheEnvironment) {
  ASSERT_EQ(setenv("NOTIFY_SOCKET", "@some-socket", 1), 0);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  EXPECT_EQ(n.address(), "@some-socket");
  EXPECT_EQ(getenv("NOTIFY_SOCKET"), nullptr) << "children would inherit it";
  EXPECT_FALSE(ServiceNotifier::FromEnvironment().enabled());
}

TEST_F(NotifyTest, BadOrAbsentSocketsAreErrors) {
  absl::Status relative = ServiceNotifier("notify.sock").Ready("up");
  EXPECT_EQ(relative.code(), absl::StatusCode::kInvalidArgument) << relative;
  absl::Status absent = ServiceNotifier(dir_ + "/absent.sock").Ready("up");
  EXPECT_FALSE(absent.ok());
  EXPECT_THAT(absent.message(), HasSubstr(dir_ + "/absent.sock"));
  absl::Status too_long = ServiceNotifier("/" + std::string(200, 'x')).Ready("up");
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument) << too_long;
}

}  // namespace
}  // namespace berth::controller
