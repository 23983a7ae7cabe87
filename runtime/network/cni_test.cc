// The CNI runtime against fake plugins (small Python programs that record
// what they were given and answer as the spec says), and the network
// config, result and error handling without any plugin.
#include "runtime/network/cni.h"

#include <sys/stat.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::runtime::network {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// Logs "<name> <command>" to <dir>/calls and its stdin and environment to
// <dir>/<name>.<command>.json; behaves as its config's "fake" says: "ip"
// (ADD result address), "fail" (a CNI error to print, exit 1), "garbage"
// (print it, exit 1), "sleep" (seconds, after starting a sleeping child
// whose pid goes to <dir>/<name>.child).
constexpr char kFakePlugin[] = R"(#!/usr/bin/python3
import json, os, subprocess, sys, time
name = os.path.basename(sys.argv[0])
d = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0]))) + "/log"
conf = json.load(sys.stdin)
cmd = os.environ["CNI_COMMAND"]
with open(d + "/calls", "a") as f:
    f.write(name + " " + cmd + "\n")
env = {k: v for k, v in os.environ.items() if k.startswith("CNI_")}
with open("%s/%s.%s.json" % (d, name, cmd), "w") as f:
    json.dump({"stdin": conf, "env": env}, f)
fake = conf.get("fake", {})
if "sleep" in fake:
    child = subprocess.Popen(["/bin/sleep", "1000"])
    with open(d + "/" + name + ".child", "w") as f:
        f.write(str(child.pid))
    time.sleep(fake["sleep"])
if "fail" in fake:
    print(json.dumps(dict(cniVersion=conf["cniVersion"], **fake["fail"])))
    sys.exit(1)
if "garbage" in fake:
    sys.stderr.write(fake["garbage"])
    sys.exit(2)
if cmd == "ADD":
    result = conf.get("prevResult") or {"cniVersion": conf["cniVersion"]}
    if "ip" in fake:
        result["interfaces"] = [{"name": "eth0", "sandbox": os.environ["CNI_NETNS"]}]
        result["ips"] = [{"address": fake["ip"], "interface": 0}]
    result.setdefault("seen", []).append(name)
    print(json.dumps(result))
)";

class CniTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {"/bin", "/log", "/conf"}) ASSERT_TRUE(MakeDirs(dir_.path() + d).ok());
    for (const char* name : {"alpha", "beta", "slow"}) {
      const std::string path = absl::StrCat(dir_.path(), "/bin/", name);
      ASSERT_TRUE(WriteFileAtomic(path, kFakePlugin).ok());
      ASSERT_EQ(chmod(path.c_str(), 0755), 0);
    }
  }

  CniClient Client(absl::Duration timeout = absl::Seconds(20)) const {
    return CniClient(CniOptions{"/nonexistent:" + dir_.path() + "/bin", timeout});
  }

  static CniNetwork Network(const json& conflist) {
    absl::StatusOr<CniNetwork> n = CniNetwork::FromJson(conflist, "test");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(CniNetwork{});
  }

  json Logged(const std::string& plugin, const std::string& command) const {
    auto content = ReadFile(absl::StrCat(dir_.path(), "/log/", plugin, ".", command, ".json"));
    EXPECT_TRUE(content.ok()) << plugin << " " << command << " never ran";
    return content.ok() ? json::parse(*content) : json();
  }

  std::vector<std::string> Calls() const {
    auto content = ReadFile(dir_.path() + "/log/calls");
    if (!content.ok()) return {};
    return absl::StrSplit(absl::StripTrailingAsciiWhitespace(*content), '\n');
  }

  static CniAttachment Attachment() {
    CniAttachment a;
    a.container_id = "web";
    a.netns = "/run/berth/netns/web";
    a.ports = {{8080, 80, "tcp", ""}, {5353, 53, "udp", "127.0.0.1"}};
    a.args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "web"}};
    return a;
  }

  void WriteConf(const std::string& name, const std::string& content) {
    ASSERT_TRUE(WriteFileAtomic(dir_.path() + "/conf/" + name, content).ok());
  }

  testing::TempDir dir_{"berth-cni"};
};

const json kTwoPlugins = {{"cniVersion", "1.0.0"},
                          {"name", "testnet"},
                          {"plugins",
                           {{{"type", "alpha"}, {"fake", {{"ip", "10.9.0.7/24"}}}},
                            {{"type", "beta"}, {"capabilities", {{"portMappings", true}}}}}}};

TEST(MakeAttachmentTest, CniArgsAsKubeletAndContainerdPassThem) {
  const CniAttachment a = MakeAttachment("ns1.web", "/run/berth/netns/ns1.web",
                                         {{"K8S_POD_NAMESPACE", "ns1"}, {"K8S_POD_NAME", "web"}});
  EXPECT_EQ(a.container_id, "ns1.web");
  EXPECT_EQ(a.netns, "/run/berth/netns/ns1.web");
  EXPECT_EQ(a.ifname, "eth0");
  EXPECT_THAT(a.ports, ::testing::IsEmpty());
  EXPECT_THAT(a.args, ElementsAre(Pair("IgnoreUnknown", "1"), Pair("K8S_POD_NAMESPACE", "ns1"),
                                  Pair("K8S_POD_NAME", "web"),
                                  Pair("K8S_POD_INFRA_CONTAINER_ID", "ns1.web")));
  // Without the caller's: IgnoreUnknown and the container id alone.
  EXPECT_THAT(MakeAttachment("x", "/n/x", {}).args,
              ElementsAre(Pair("IgnoreUnknown", "1"), Pair("K8S_POD_INFRA_CONTAINER_ID", "x")));
}

TEST_F(CniTest, AddChainsResultsAndPassesTheParameters) {
  absl::StatusOr<json> result = Client().Add(Network(kTwoPlugins), Attachment());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["seen"], json({"alpha", "beta"}));
  EXPECT_EQ(PrimaryIp(*result, "eth0").value_or(""), "10.9.0.7");
  EXPECT_THAT(Calls(), ElementsAre("alpha ADD", "beta ADD"));

  const json alpha = Logged("alpha", "ADD");
  EXPECT_EQ(alpha["env"]["CNI_COMMAND"], "ADD");
  EXPECT_EQ(alpha["env"]["CNI_CONTAINERID"], "web");
  EXPECT_EQ(alpha["env"]["CNI_NETNS"], "/run/berth/netns/web");
  EXPECT_EQ(alpha["env"]["CNI_IFNAME"], "eth0");
  EXPECT_EQ(alpha["env"]["CNI_ARGS"], "IgnoreUnknown=1;K8S_POD_NAME=web");
  EXPECT_EQ(alpha["env"]["CNI_PATH"], "/nonexistent:" + dir_.path() + "/bin");
  EXPECT_EQ(alpha["stdin"]["name"], "testnet");
  EXPECT_EQ(alpha["stdin"]["cniVersion"], "1.0.0");
  EXPECT_FALSE(alpha["stdin"].contains("prevResult"));
  EXPECT_FALSE(alpha["stdin"].contains("runtimeConfig"));  // no portMappings capability

  const json beta = Logged("beta", "ADD");
  EXPECT_EQ(beta["stdin"]["prevResult"]["seen"], json({"alpha"}));
  EXPECT_EQ(beta["stdin"]["runtimeConfig"]["portMappings"],
            json::parse(R"([{"hostPort":8080,"containerPort":80,"protocol":"tcp"},
                            {"hostPort":5353,"containerPort":53,"protocol":"udp",
                             "hostIP":"127.0.0.1"}])"));
}

TEST_F(CniTest, DelRunsInReverseWithTheAddResultAndCheckInOrder) {
  const CniNetwork net = Network(kTwoPlugins);
  absl::StatusOr<json> result = Client().Add(net, Attachment());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(Client().Check(net, Attachment(), *result).ok());
  ASSERT_TRUE(Client().Del(net, Attachment(), *result).ok());
  EXPECT_THAT(Calls(), ElementsAre("alpha ADD", "beta ADD", "alpha CHECK", "beta CHECK", "beta DEL",
                                   "alpha DEL"));
  EXPECT_EQ(Logged("alpha", "DEL")["stdin"]["prevResult"], *result);
  EXPECT_EQ(Logged("beta", "CHECK")["stdin"]["prevResult"], *result);
  EXPECT_EQ(Logged("beta", "DEL")["env"]["CNI_COMMAND"], "DEL");
}

TEST_F(CniTest, OldVersionsGetNoPrevResultOnDelAndNoCheck) {
  json conf = kTwoPlugins;
  conf["cniVersion"] = "0.3.1";
  const CniNetwork net = Network(conf);
  absl::StatusOr<json> result = Client().Add(net, Attachment());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(Client().Check(net, Attachment(), *result)));
  ASSERT_TRUE(Client().Del(net, Attachment(), *result).ok());
  EXPECT_FALSE(Logged("alpha", "DEL")["stdin"].contains("prevResult"));
}

TEST_F(CniTest, PluginErrorsNameThePluginAndKeepTheirMeaning) {
  json conf = kTwoPlugins;
  conf["plugins"][1]["fake"]["fail"] = {{"code", 11}, {"msg", "busy"}, {"details", "try later"}};
  absl::StatusOr<json> result = Client().Add(Network(conf), Attachment());
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_EQ(result.status().message(), "CNI plugin beta ADD: busy: try later (CNI error 11)");

  conf["plugins"][1]["fake"]["fail"] = {{"code", 7}, {"msg", "bad config"}};
  result = Client().Add(Network(conf), Attachment());
  EXPECT_TRUE(absl::IsFailedPrecondition(result.status())) << result.status();

  // DEL runs every plugin and reports the first failure.
  conf["plugins"][1]["fake"] = {{"garbage", "panic: no\n"}};
  absl::Status del = Client().Del(Network(conf), Attachment(), json());
  EXPECT_TRUE(absl::IsInternal(del)) << del;
  EXPECT_EQ(del.message(), "CNI plugin beta DEL: exit status 2: panic: no");
  EXPECT_THAT(Calls(), ::testing::Contains("alpha DEL"));

  conf["plugins"][0]["type"] = "gamma";
  result = Client().Add(Network(conf), Attachment());
  EXPECT_TRUE(absl::IsFailedPrecondition(result.status())) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("CNI plugin gamma not found in"));
}

TEST_F(CniTest, AHangingPluginIsKilledWithWhatItStarted) {
  json conf = {{"cniVersion", "1.0.0"},
               {"name", "slow"},
               {"plugins", {{{"type", "slow"}, {"fake", {{"sleep", 60}}}}}}};
  const absl::Time start = absl::Now();
  absl::StatusOr<json> result = Client(absl::Seconds(2)).Add(Network(conf), Attachment());
  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  auto child = ReadFile(dir_.path() + "/log/slow.child");
  ASSERT_TRUE(child.ok());
  int pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*child), &pid));
  // Gone, or a zombie waiting for init to reap it.
  EXPECT_EQ(ProcessStartTime(pid), 0u) << "the plugin's child " << pid << " outlived the call";
}

TEST_F(CniTest, TheFirstValidConfigInLexicalOrderIsTheNetwork) {
  const std::string conf_dir = dir_.path() + "/conf";
  auto none = LoadNetwork(conf_dir);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(LoadNetwork(dir_.path() + "/missing").value().has_value());

  WriteConf("99-last.conflist", R"({"cniVersion":"1.0.0","name":"last","plugins":[{"type":"a"}]})");
  WriteConf("50-single.conf", R"({"cniVersion":"0.4.0","name":"single","type":"bridge"})");
  WriteConf("10-broken.conflist", "{not json");
  WriteConf("20-badversion.conflist",
            R"({"cniVersion":"9.9.9","name":"x","plugins":[{"type":"a"}]})");
  WriteConf("30-readme.txt", "not a config");
  auto picked = LoadNetwork(conf_dir);
  ASSERT_TRUE(picked.ok()) << picked.status();
  ASSERT_TRUE(picked->has_value());
  EXPECT_EQ((*picked)->name, "single");
  EXPECT_EQ((*picked)->cni_version, "0.4.0");
  ASSERT_EQ((*picked)->plugins.size(), 1u);
  EXPECT_EQ((*picked)->plugins[0]["type"], "bridge");
  EXPECT_EQ((*picked)->source, conf_dir + "/50-single.conf");

  WriteConf("05-first.conflist",
            R"({"cniVersion":"1.0.0","name":"first","plugins":[{"type":"a"},{"type":"b"}]})");
  EXPECT_EQ(LoadNetwork(conf_dir).value()->name, "first");

  testing::TempDir only_bad{"berth-cni-bad"};
  ASSERT_TRUE(WriteFileAtomic(only_bad.path() + "/a.conflist", "[]").ok());
  auto bad = LoadNetwork(only_bad.path());
  EXPECT_TRUE(absl::IsFailedPrecondition(bad.status())) << bad.status();
  EXPECT_THAT(bad.status().message(), HasSubstr("a.conflist"));
}

TEST(CniResultTest, PrimaryIpPrefersTheSandboxInterfaceAndIpv4) {
  const json result = json::parse(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"berth0"},{"name":"veth1"},{"name":"eth0","sandbox":"/run/x"}],
    "ips":[{"address":"10.88.0.1/24","interface":0},
           {"address":"fd00::5/64","interface":2},
           {"address":"10.88.0.5/24","gateway":"10.88.0.1","interface":2}]})");
  EXPECT_EQ(PrimaryIp(result, "eth0").value_or(""), "10.88.0.5");
  // 0.3.x results look the same; without interfaces any address counts.
  EXPECT_EQ(PrimaryIp(json::parse(R"({"ips":[{"version":"6","address":"fd00::9/64"}]})"), "eth0")
                .value_or(""),
            "fd00::9");
  EXPECT_TRUE(absl::IsInvalidArgument(PrimaryIp(json::parse(R"({"ips":[]})"), "eth0").status()));
}

TEST(CniCacheTest, RoundTrip) {
  testing::TempDir dir{"berth-cni-cache"};
  NetworkCache cache;
  cache.network = CniNetwork::FromJson(kTwoPlugins, "/etc/cni/net.d/10-test.conflist").value();
  cache.attachment.container_id = "web";
  cache.attachment.netns = "/run/berth/netns/web";
  cache.attachment.ports = {{8080, 80, "tcp", ""}};
  cache.attachment.args = {{"IgnoreUnknown", "1"}};
  cache.result = json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]})");
  const std::string path = dir.path() + "/network.json";
  EXPECT_TRUE(absl::IsNotFound(ReadNetworkCache(path).status()));
  ASSERT_TRUE(WriteNetworkCache(path, cache).ok());
  absl::StatusOr<NetworkCache> read = ReadNetworkCache(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->network.ToJson(), cache.network.ToJson());
  EXPECT_EQ(read->network.source, "/etc/cni/net.d/10-test.conflist");
  EXPECT_EQ(read->attachment.netns, "/run/berth/netns/web");
  EXPECT_EQ(read->attachment.ifname, "eth0");
  ASSERT_EQ(read->attachment.ports.size(), 1u);
  EXPECT_EQ(read->attachment.ports[0].host_port, 8080);
  EXPECT_EQ(read->attachment.args, cache.attachment.args);
  EXPECT_EQ(read->result, cache.result);
  ASSERT_TRUE(WriteFileAtomic(path, "{\"version\":1}").ok());
  EXPECT_TRUE(absl::IsDataLoss(ReadNetworkCache(path).status()));
}

}  // namespace
}  // namespace berth::runtime::network
