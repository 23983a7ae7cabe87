#include "runtime/container_spec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime {
namespace {

using ::testing::HasSubstr;

ContainerSpec Valid() {
  ContainerSpec s;
  s.id = "web";
  s.rootfs_layers = {"/var/lib/berth/snapshots/2/fs", "/var/lib/berth/snapshots/1/fs"};
  s.args = {"/bin/sleep", "10"};
  s.env = {"A=1", "EMPTY="};
  s.mounts = {{MountSpec::Type::kBind, "/srv", "/data", true, 0},
              {MountSpec::Type::kTmpfs, "", "/scratch", false, 1 << 20}};
  s.labels = {{"app", "web"}};
  s.resources = {64 << 20, 500, 10};
  return s;
}

TEST(ContainerSpecTest, ValidSpecPasses) {
  EXPECT_TRUE(ValidateContainerSpec(Valid()).ok());
  ContainerSpec networked = Valid();
  networked.hostname = "web-1";
  networked.ports = {{8080, 80, "tcp", ""}, {0, 53, "udp", ""}, {53, 53, "udp", "fd00::1"}};
  networked.host_aliases = {{"10.0.0.3", {"db", "db.local"}}};
  networked.dns = DnsSettings{{"10.0.0.10", "fd00::10"}, {"svc.local"}, {"ndots:5"}};
  EXPECT_TRUE(ValidateContainerSpec(networked).ok());
}

TEST(ContainerSpecTest, EachProblemIsNamed) {
  struct Case {
    const char* want;
    void (*mutate)(ContainerSpec&);
  };
  const Case cases[] = {
      {"container id", [](ContainerSpec& s) { s.id = "../x"; }},
      {"rootfs", [](ContainerSpec& s) { s.rootfs_layers.clear(); }},
      {"rootfs layer relative", [](ContainerSpec& s) { s.rootfs_layers[1] = "relative"; }},
      {"rootfs layer /a,b", [](ContainerSpec& s) { s.rootfs_layers[0] = "/a,b"; }},
      {"rootfs layer /a:b", [](ContainerSpec& s) { s.rootfs_layers[1] = "/a:b"; }},
      {"rootfs layer /a/../b", [](ContainerSpec& s) { s.rootfs_layers[0] = "/a/../b"; }},
      {"args", [](ContainerSpec& s) { s.args.clear(); }},
      {"env", [](ContainerSpec& s) { s.env = {"NOEQUALS"}; }},
      {"env", [](ContainerSpec& s) { s.env = {"=x"}; }},
      {"workingDir", [](ContainerSpec& s) { s.working_dir = "srv"; }},
      {"mount /data/../etc", [](ContainerSpec& s) { s.mounts[0].destination = "/data/../etc"; }},
      {"source", [](ContainerSpec& s) { s.mounts[0].source = "srv"; }},
      {"mount /", [](ContainerSpec& s) { s.mounts[0].destination = "/"; }},
      {"stopSignal", [](ContainerSpec& s) { s.stop_signal = 0; }},
      {"stopSignal", [](ContainerSpec& s) { s.stop_signal = 65; }},
      {"resources", [](ContainerSpec& s) { s.resources.pids = -1; }},
      {"resources.memory", [](ContainerSpec& s) { s.resources.memory_bytes = 100; }},
      {"log_max_files", [](ContainerSpec& s) { s.log_max_files = 0; }},
      {"hostname", [](ContainerSpec& s) { s.hostname = "a b"; }},
      {"port 80:0",
       [](ContainerSpec& s) {
         s.ports = {{80, 0, "tcp", ""}};
       }},
      {"port 70000:80",
       [](ContainerSpec& s) {
         s.ports = {{70000, 80, "tcp", ""}};
       }},
      {"is not tcp or udp",
       [](ContainerSpec& s) {
         s.ports = {{80, 80, "TCP", ""}};
       }},
      {"hostIP",
       [](ContainerSpec& s) {
         s.ports = {{80, 80, "udp", "localhost"}};
       }},
      {"hostAliases",
       [](ContainerSpec& s) {
         s.host_aliases = {{"10.0.0.300", {"db"}}};
       }},
      {"hostAliases 10.0.0.3",
       [](ContainerSpec& s) {
         s.host_aliases = {{"10.0.0.3", {}}};
       }},
      {"hostAliases ::1",
       [](ContainerSpec& s) {
         s.host_aliases = {{"::1", {"a\nb"}}};
       }},
      {"nameserver",
       [](ContainerSpec& s) {
         s.dns = DnsSettings{{"dns.example"}, {}, {}};
       }},
      {"dns",
       [](ContainerSpec& s) {
         s.dns = DnsSettings{{}, {"a b"}, {}};
       }},
      {"cni_args",
       [](ContainerSpec& s) {
         s.cni_args = {{"K8S_POD_NAME", "a;IgnoreUnknown=0"}};
       }},
      {"cni_args",
       [](ContainerSpec& s) {
         s.cni_args = {{"A=B", "c"}};
       }},
      {"cni_args",
       [](ContainerSpec& s) {
         s.cni_args = {{"", "c"}};
       }},
  };
  for (const Case& c : cases) {
    ContainerSpec s = Valid();
    c.mutate(s);
    absl::Status st = ValidateContainerSpec(s);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << c.want;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.want));
  }
}

}  // namespace
}  // namespace berth::runtime
