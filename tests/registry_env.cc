#include "tests/registry_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"

namespace berth::testing {
namespace {

using runtime::UniqueFd;

absl::Status Run(const std::vector<std::string>& argv, absl::Duration timeout = absl::Minutes(2)) {
  absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, timeout);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), ": exit ", r->exit_code, ": ", r->output));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> FreePort() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return absl::ErrnoToStatus(errno, "bind 127.0.0.1:0");
  }
  return ntohs(a.sin_port);
}

bool PortAccepts(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return fd.valid() && connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
}

std::string TestImagesDir() { return BERTH_TEST_IMAGES_DIR; }

absl::Status BuildTestImages(const std::vector<std::string>& names, bool big) {
  std::vector<std::string> argv = {"/bin/bash", BERTH_MAKE_TEST_IMAGES,
                                   "--only=" + absl::StrJoin(names, ",")};
  if (big) argv.push_back("--big");
  argv.push_back(TestImagesDir());
  argv.push_back("-");
  return Run(argv, absl::Minutes(5));
}

absl::StatusOr<std::unique_ptr<RegistryEnv>> RegistryEnv::Start(RegistryEnvOptions options) {
  std::unique_ptr<RegistryEnv> env(new RegistryEnv());
  env->options_ = options;
  char tmpl[] = "/tmp/berth-registry-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  env->dir_ = tmpl;
  const std::string& d = env->dir_;
  if (options.tls) {
    const std::string ossl = "/usr/bin/openssl";
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key",
              "-out", d + "/ca.crt", "-days", "2", "-subj", "/CN=berth-test-ca"},
             {ossl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/server.key", "-out",
              d + "/server.csr", "-subj", "/CN=127.0.0.1"}}) {
      if (absl::Status s = Run(argv); !s.ok()) return s;
    }
    if (absl::Status s = runtime::WriteFileAtomic(
            d + "/ext.cnf", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = Run({ossl, "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.crt",
                              "-CAkey", d + "/ca.key", "-CAcreateserial", "-out", d + "/server.crt",
                              "-days", "2", "-extfile", d + "/ext.cnf"});
        !s.ok()) {
      return s;
    }
  }
  if (!options.user.empty()) {
    if (absl::Status s =
            Run({"/usr/bin/htpasswd", "-Bbc", d + "/htpasswd", options.user, options.password});
        !s.ok()) {
      return s;
    }
  }
  // A free port can be taken between FreePort and the registry's bind:
  // try a few.
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    env->port_ = *port;
    env->host_ = absl::StrCat("127.0.0.1:", env->port_);
    last = env->Launch();
    if (last.ok()) return env;
  }
  return last;
}

absl::Status RegistryEnv::Launch() {
  std::string config = absl::StrCat(
      "version: 0.1\n"
      "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
      "storage:\n  filesystem:\n    rootdirectory: ",
      storage_dir(),
      "\n"
      "  delete:\n    enabled: true\n"
      "  maintenance:\n    uploadpurging:\n      enabled: false\n"
      "http:\n  addr: ",
      host_, "\n");
  if (options_.tls) {
    absl::StrAppend(&config, "  tls:\n    certificate: ", dir_, "/server.crt\n    key: ", dir_,
                    "/server.key\n");
  }
  if (!options_.user.empty()) {
    absl::StrAppend(&config, "auth:\n  htpasswd:\n    realm: berth-test\n    path: ", dir_,
                    "/htpasswd\n");
  }
  if (absl::Status s = runtime::WriteFileAtomic(dir_ + "/config.yml", config); !s.ok()) return s;
  UniqueFd log(
      open((dir_ + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  runtime::SpawnOptions so;
  so.stdout_fd = log.get();
  so.stderr_fd = log.get();
  absl::StatusOr<pid_t> pid =
      runtime::Spawn({"/usr/bin/docker-registry", "serve", dir_ + "/config.yml"}, so);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!PortAccepts(port_)) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      auto text = runtime::ReadFile(dir_ + "/registry.log", 1 << 16);
      return absl::UnavailableError(
          absl::StrCat("start registry on ", host_, ": exited: ", text.ok() ? *text : ""));
    }
    if (absl::Now() >= deadline) {
      Stop();
      return absl::DeadlineExceededError(
          absl::StrCat("start registry on ", host_, ": no listener after 20 s"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::OkStatus();
}

void RegistryEnv::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  int status;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
}

absl::Status RegistryEnv::Restart() {
  Stop();
  return Launch();
}

RegistryEnv::~RegistryEnv() {
  Stop();
  runtime::RemoveTree(dir_).IgnoreError();
}

std::string RegistryEnv::StoredBlobPath(const std::string& digest) const {
  const std::string hex = digest.substr(digest.find(':') + 1);
  return absl::StrCat(storage_dir(), "/docker/registry/v2/blobs/sha256/", hex.substr(0, 2), "/",
                      hex, "/data");
}

absl::Status RegistryEnv::PushTestImages(const std::vector<std::string>& names, bool big) const {
  std::vector<std::string> argv = {"/bin/bash", BERTH_MAKE_TEST_IMAGES,
                                   "--only=" + absl::StrJoin(names, ",")};
  if (big) argv.push_back("--big");
  if (!options_.user.empty()) argv.push_back("--creds=" + options_.user + ":" + options_.password);
  argv.push_back(TestImagesDir());
  argv.push_back(host_);
  return Run(argv, absl::Minutes(5));
}

}  // namespace berth::testing
