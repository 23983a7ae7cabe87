#include "runtime/network/etc_files.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::runtime::network {
namespace {

ContainerSpec Spec() {
  ContainerSpec s;
  s.id = "default.web";
  return s;
}

TEST(EtcFilesTest, HostsHasLoopbackTheContainerAndItsAliases) {
  ContainerSpec spec = Spec();
  spec.host_aliases = {{"10.1.2.3", {"db", "db.local"}}, {"10.1.2.4", {"cache"}}};
  EXPECT_EQ(HostsFileContent(spec, "10.88.0.5"),
            "# Berth-managed hosts file.\n"
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "fe00::0\tip6-mcastprefix\n"
            "fe00::1\tip6-allnodes\n"
            "fe00::2\tip6-allrouters\n"
            "10.88.0.5\tdefault\n"
            "\n"
            "# Entries added by hostAliases.\n"
            "10.1.2.3\tdb\tdb.local\n"
            "10.1.2.4\tcache\n");
  spec.hostname = "web-1";
  spec.host_aliases.clear();
  EXPECT_THAT(HostsFileContent(spec, "10.88.0.5"), ::testing::EndsWith("\n10.88.0.5\tweb-1\n"));
  EXPECT_THAT(HostsFileContent(spec, ""), ::testing::EndsWith("ip6-allrouters\n"));
}

TEST(EtcFilesTest, ResolvConfIsTheSpecsOrTheNodes) {
  ContainerSpec spec = Spec();
  EXPECT_EQ(ResolvConfContent(spec, "nameserver 1.1.1.1\n"), "nameserver 1.1.1.1\n");
  spec.dns = DnsSettings{{"10.0.0.10", "10.0.0.11"}, {"ns.svc", "svc"}, {"ndots:5", "edns0"}};
  EXPECT_EQ(ResolvConfContent(spec, "nameserver 1.1.1.1\n"),
            "nameserver 10.0.0.10\n"
            "nameserver 10.0.0.11\n"
            "search ns.svc svc\n"
            "options ndots:5 edns0\n");
  spec.dns = DnsSettings{};
  EXPECT_EQ(ResolvConfContent(spec, "nameserver 1.1.1.1\n"), "");
}

TEST(EtcFilesTest, WritesTheThreeFiles) {
  testing::TempDir dir{"berth-etc"};
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/node-resolv", "search example\n").ok());
  ContainerSpec spec = Spec();
  ASSERT_TRUE(
      WriteEtcFiles(dir.path() + "/etc", spec, "10.0.0.2", dir.path() + "/node-resolv").ok());
  EXPECT_EQ(ReadFile(dir.path() + "/etc/hostname").value_or(""), "default\n");
  EXPECT_EQ(ReadFile(dir.path() + "/etc/resolv.conf").value_or(""), "search example\n");
  EXPECT_THAT(ReadFile(dir.path() + "/etc/hosts").value_or(""),
              ::testing::HasSubstr("10.0.0.2\tdefault\n"));
  // No node file: an empty resolv.conf.
  ASSERT_TRUE(WriteEtcFiles(dir.path() + "/etc", spec, "", dir.path() + "/missing").ok());
  EXPECT_EQ(ReadFile(dir.path() + "/etc/resolv.conf").value_or("x"), "");
}

}  // namespace
}  // namespace berth::runtime::network
