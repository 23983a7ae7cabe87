#include "runtime/state_store.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::runtime {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<StateStore>(dir_.path() + "/containers");
    ASSERT_TRUE(store_->Init().ok());
  }

  // A record of `id` with what every record needs.
  static ContainerRecord Record(const std::string& id, RecordPhase phase) {
    ContainerRecord r;
    r.spec.id = id;
    r.spec.rootfs_layers = {"/r"};
    r.spec.args = {"/bin/sh"};
    r.phase = phase;
    return r;
  }

  testing::TempDir dir_{"berth-store"};
  std::unique_ptr<StateStore> store_;
};

// A record with every field of the spec set.
ContainerRecord FullRecord() {
  ContainerRecord r;
  ContainerSpec& s = r.spec;
  s.id = "web";
  s.rootfs_layers = {"/var/lib/berth/snapshots/2/fs", "/var/lib/berth/snapshots/1/fs"};
  s.args = {"/bin/sleep", "10", "quote\" back\\slash\ttab caf\xc3\xa9"};
  s.env = {"A=1", "EMPTY="};
  s.working_dir = "/srv";
  s.uid = 1000;
  s.gid = 2000;
  s.hostname = "web";
  s.resources = {64 << 20, 500, 10};
  s.mounts = {{MountSpec::Type::kBind, "/srv", "/data", true, 0},
              {MountSpec::Type::kTmpfs, "", "/scratch", false, 1 << 20}};
  s.stop_signal = 9;
  s.host_network = true;
  s.host_pid = true;
  s.labels = {{"app", "web"}};
  s.annotations = {{"berth.dev/spec-hash", "v2:0123456789abcdef"}, {"berth.dev/name", "web"}};
  s.log_max_bytes = 1 << 20;
  s.log_max_files = 3;
  r.phase = RecordPhase::kStarted;
  r.cgroups_path = "/berth/web";
  r.monitor_pid = 12;
  r.monitor_start_time = 34;
  r.pid = 56;
  r.pid_start_time = 78;
  r.created_at = absl::FromUnixNanos(1000000000123);
  r.started_at = absl::FromUnixSeconds(1001);
  return r;
}

// state.json as every release writes it, byte for byte: records on disk are
// read by the next release, and nothing may recreate containers for a
// change of their form.
TEST_F(StateStoreTest, RecordFileIsTheVersionOneFormat) {
  ASSERT_TRUE(store_->CreateDir("web").ok());
  ASSERT_TRUE(store_->Write(FullRecord()).ok());
  const std::string want = absl::StrCat(
      R"({"boot_id":")", CurrentBootId(),
      R"json(")json"
      R"json(,"cgroups_path":"/berth/web","created_at":1000000000123,"monitor_pid":12,)json"
      R"json("monitor_start_time":34,"phase":"started","pid":56,"pid_start_time":78,)json"
      R"json("spec":{"annotations":{"berth.dev/name":"web",)json"
      R"json("berth.dev/spec-hash":"v2:0123456789abcdef"},"args":["/bin/sleep","10",)json"
      R"json("quote\" back\\slash\ttab café"],"cpu_millis":500,"env":["A=1","EMPTY="],)json"
      R"json("gid":2000,"host_network":true,"host_pid":true,"hostname":"web","id":"web",)json"
      R"json("labels":{"app":"web"},"log_max_bytes":1048576,"log_max_files":3,)json"
      R"json("memory_bytes":67108864,"mounts":[{"destination":"/data","read_only":true,)json"
      R"json("size_bytes":0,"source":"/srv","type":"bind"},{"destination":"/scratch",)json"
      R"json("read_only":false,"size_bytes":1048576,"source":"","type":"tmpfs"}],"pids":10,)json"
      R"json("rootfs_layers":["/var/lib/berth/snapshots/2/fs",)json"
      R"json("/var/lib/berth/snapshots/1/fs"],"stop_signal":9,"uid":1000,)json"
      R"json("working_dir":"/srv"},"started_at":1001000000000,"version":1})json");
  EXPECT_EQ(*ReadFile(store_->ContainerDir("web") + "/state.json"), want);
}

TEST_F(StateStoreTest, NetworkFieldsRoundTripAndStayOutOfRecordsWithoutThem) {
  ContainerRecord r = FullRecord();
  r.spec.ports = {{8080, 80, "tcp", ""}, {53, 53, "udp", "10.0.0.1"}};
  r.spec.host_aliases = {{"10.1.2.3", {"db", "db.local"}}};
  r.spec.dns = DnsSettings{{"10.0.0.10"}, {"svc.local"}, {"ndots:2"}};
  r.spec.cni_args = {{"K8S_POD_NAMESPACE", "ns1"}, {"K8S_POD_NAME", "web"}};
  r.netns_path = "/run/berth/netns/web";
  r.ip = "10.88.0.5";
  ASSERT_TRUE(store_->CreateDir("web").ok());
  ASSERT_TRUE(store_->Write(r).ok());
  auto back = store_->Read("web");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->spec.ports.size(), 2u);
  EXPECT_EQ(back->spec.ports[1].host_port, 53);
  EXPECT_EQ(back->spec.ports[1].container_port, 53);
  EXPECT_EQ(back->spec.ports[1].protocol, "udp");
  EXPECT_EQ(back->spec.ports[1].host_ip, "10.0.0.1");
  ASSERT_EQ(back->spec.host_aliases.size(), 1u);
  EXPECT_EQ(back->spec.host_aliases[0].hostnames, r.spec.host_aliases[0].hostnames);
  ASSERT_TRUE(back->spec.dns.has_value());
  EXPECT_EQ(back->spec.dns->nameservers, r.spec.dns->nameservers);
  EXPECT_EQ(back->spec.dns->searches, r.spec.dns->searches);
  EXPECT_EQ(back->spec.dns->options, r.spec.dns->options);
  EXPECT_EQ(back->spec.cni_args, r.spec.cni_args);
  EXPECT_EQ(back->netns_path, "/run/berth/netns/web");
  EXPECT_EQ(back->ip, "10.88.0.5");

  ASSERT_TRUE(store_->Write(FullRecord()).ok());
  const std::string plain = *ReadFile(store_->ContainerDir("web") + "/state.json");
  for (const char* key : {"ports", "host_aliases", "dns", "cni_args", "netns_path", "\"ip\""}) {
    EXPECT_THAT(plain, ::testing::Not(::testing::HasSubstr(key)));
  }
  EXPECT_FALSE(store_->Read("web")->spec.dns.has_value());
  EXPECT_TRUE(store_->Read("web")->spec.cni_args.empty());
}

TEST_F(StateStoreTest, EveryFieldOfTheSpecRoundTrips) {
  ASSERT_TRUE(store_->CreateDir("web").ok());
  ASSERT_TRUE(store_->Write(FullRecord()).ok());
  const std::string path = store_->ContainerDir("web") + "/state.json";
  const std::string first = *ReadFile(path);
  auto back = store_->Read("web");
  ASSERT_TRUE(back.ok()) << back.status();
  const ContainerSpec& s = back->spec;
  EXPECT_EQ(s.rootfs_layers, FullRecord().spec.rootfs_layers);
  EXPECT_EQ(s.args, FullRecord().spec.args);
  EXPECT_EQ(s.env, FullRecord().spec.env);
  EXPECT_EQ(s.working_dir, "/srv");
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.gid, 2000u);
  EXPECT_EQ(s.hostname, "web");
  EXPECT_EQ(s.resources.memory_bytes, 64 << 20);
  EXPECT_EQ(s.resources.cpu_millis, 500);
  EXPECT_EQ(s.resources.pids, 10);
  ASSERT_EQ(s.mounts.size(), 2u);
  EXPECT_EQ(s.mounts[0].type, MountSpec::Type::kBind);
  EXPECT_EQ(s.mounts[0].source, "/srv");
  EXPECT_TRUE(s.mounts[0].read_only);
  EXPECT_EQ(s.mounts[1].type, MountSpec::Type::kTmpfs);
  EXPECT_EQ(s.mounts[1].destination, "/scratch");
  EXPECT_EQ(s.mounts[1].size_bytes, 1 << 20);
  EXPECT_EQ(s.stop_signal, 9);
  EXPECT_TRUE(s.host_network);
  EXPECT_TRUE(s.host_pid);
  EXPECT_EQ(s.labels, FullRecord().spec.labels);
  EXPECT_EQ(s.annotations, FullRecord().spec.annotations);
  EXPECT_EQ(s.log_max_bytes, 1 << 20);
  EXPECT_EQ(s.log_max_files, 3);
  EXPECT_EQ(back->created_at, absl::FromUnixNanos(1000000000123));
  EXPECT_EQ(back->cgroups_path, "/berth/web");
  // Written back, the same bytes.
  ASSERT_TRUE(store_->Write(*back).ok());
  EXPECT_EQ(*ReadFile(path), first);
}

TEST_F(StateStoreTest, RecordWithOneRootfsDirectoryReadsAsOneLayer) {
  // Records written before image layers name one directory as "rootfs".
  ASSERT_TRUE(store_->CreateDir("web").ok());
  ASSERT_TRUE(store_->Write(FullRecord()).ok());
  const std::string path = store_->ContainerDir("web") + "/state.json";
  std::string content = *ReadFile(path);
  const std::string layers =
      R"("rootfs_layers":["/var/lib/berth/snapshots/2/fs","/var/lib/berth/snapshots/1/fs"])";
  ASSERT_NE(content.find(layers), std::string::npos) << content;
  content.replace(content.find(layers), layers.size(),
                  R"("rootfs":"/var/lib/berth/images/busybox/latest/rootfs")");
  ASSERT_TRUE(WriteFileAtomic(path, content).ok());
  auto back = store_->Read("web");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(back->spec.rootfs_layers,
              ::testing::ElementsAre("/var/lib/berth/images/busybox/latest/rootfs"));
}

TEST_F(StateStoreTest, RecordRoundTrip) {
  ContainerRecord r = Record("web", RecordPhase::kStarted);
  r.cgroups_path = "/berth/web";
  r.monitor_pid = 12;
  r.monitor_start_time = 34;
  r.pid = 56;
  r.pid_start_time = 78;
  r.created_at = absl::FromUnixSeconds(1000);
  r.started_at = absl::FromUnixSeconds(1001);
  ASSERT_TRUE(store_->CreateDir("web").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->CreateDir("web")));
  ASSERT_TRUE(store_->Write(r).ok());
  auto back = store_->Read("web");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->phase, RecordPhase::kStarted);
  EXPECT_EQ(back->pid, 56);
  EXPECT_EQ(back->pid_start_time, 78u);
  EXPECT_EQ(back->monitor_pid, 12);
  EXPECT_EQ(back->started_at, absl::FromUnixSeconds(1001));
  EXPECT_EQ(back->spec.args, r.spec.args);
  EXPECT_THAT(store_->ListEntries(), ::testing::ElementsAre("web"));
}

TEST_F(StateStoreTest, MissingCorruptAndForeignVersionRecordsAreDistinguished) {
  EXPECT_TRUE(absl::IsNotFound(store_->Read("nothing").status()));
  ASSERT_TRUE(store_->CreateDir("bad").ok());
  ASSERT_TRUE(WriteFileAtomic(store_->ContainerDir("bad") + "/state.json", "{not json").ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read("bad").status()));
  ASSERT_TRUE(store_->CreateDir("newer").ok());
  ASSERT_TRUE(
      WriteFileAtomic(store_->ContainerDir("newer") + "/state.json", R"({"version":2})").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->Read("newer").status()));
  ASSERT_TRUE(store_->CreateDir("partial").ok());
  ASSERT_TRUE(
      WriteFileAtomic(store_->ContainerDir("partial") + "/state.json", R"({"version":1})").ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read("partial").status()));
}

TEST_F(StateStoreTest, ExitRecord) {
  ASSERT_TRUE(store_->CreateDir("x").ok());
  EXPECT_FALSE(store_->ReadExit("x").has_value());
  ASSERT_TRUE(
      WriteFileAtomic(
          store_->ExitFile("x"),
          R"({"exit_code":137,"signal":9,"oom_killed":true,"finished_at_unix_nano":5000000000})")
          .ok());
  auto e = store_->ReadExit("x");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->exit_code, 137);
  EXPECT_EQ(e->signal, 9);
  EXPECT_TRUE(e->oom_killed);
  EXPECT_EQ(e->finished_at, absl::FromUnixSeconds(5));
}

TEST_F(StateStoreTest, EveryNewVersionOfARecordIsReadAndAGoneOneIsNotFound) {
  // Reads are served from what was parsed while the file is the same one.
  ContainerRecord r = Record("web", RecordPhase::kCreated);
  ASSERT_TRUE(store_->CreateDir("web").ok());
  ASSERT_TRUE(store_->Write(r).ok());
  for (int pid = 1; pid <= 20; ++pid) {
    r.pid = pid;
    r.phase = pid % 2 == 0 ? RecordPhase::kStarted : RecordPhase::kCreated;
    ASSERT_TRUE(store_->Write(r).ok());
    auto back = store_->Read("web");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->pid, pid);
    EXPECT_EQ(back->phase, r.phase);
    auto summary = store_->ReadSummary("web");
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_EQ(summary->pid, pid);
    EXPECT_EQ(summary->phase, r.phase);
    EXPECT_EQ(store_->ReadSummary("web")->pid, pid) << "read again";
  }
  // Replaced by something unreadable: not the last good record.
  ASSERT_TRUE(WriteFileAtomic(store_->ContainerDir("web") + "/state.json", "{not json").ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read("web").status()));
  EXPECT_TRUE(absl::IsDataLoss(store_->ReadSummary("web").status()));
  ASSERT_TRUE(store_->Write(r).ok());
  EXPECT_TRUE(store_->Read("web").ok());
  EXPECT_TRUE(store_->ReadSummary("web").ok());
  // Removed: not found, also after a listing.
  ASSERT_TRUE(RemoveTree(store_->ContainerDir("web")).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->Read("web").status()));
  EXPECT_TRUE(absl::IsNotFound(store_->ReadSummary("web").status()));
  EXPECT_THAT(store_->ListEntries(), ::testing::IsEmpty());
  EXPECT_TRUE(absl::IsNotFound(store_->ReadSummary("web").status()));
}

// The summary holds what it says of the record, the same fields as Read's.
TEST_F(StateStoreTest, TheSummaryIsTheRecordsFields) {
  ContainerRecord r = FullRecord();
  r.spec.annotations.emplace("empty", "");
  r.spec.annotations.emplace(std::string("nul\0inside", 10), std::string(300, 'x'));
  PortMapping port;
  port.host_port = 8080;
  port.container_port = 80;
  r.spec.ports = {port};
  r.ip = "10.88.0.5";
  ASSERT_TRUE(store_->CreateDir("web").ok());
  ASSERT_TRUE(store_->Write(r).ok());
  absl::StatusOr<RecordSummary> s = store_->ReadSummary("web");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->phase, r.phase);
  EXPECT_EQ(s->labels, r.spec.labels);
  EXPECT_EQ(s->Annotations(), r.spec.annotations);
  ASSERT_EQ(s->ports.size(), 1u);
  EXPECT_EQ(s->ports[0].host_port, 8080);
  EXPECT_EQ(s->cgroups_path, r.cgroups_path);
  EXPECT_EQ(s->monitor_pid, r.monitor_pid);
  EXPECT_EQ(s->monitor_start_time, r.monitor_start_time);
  EXPECT_EQ(s->pid, r.pid);
  EXPECT_EQ(s->pid_start_time, r.pid_start_time);
  EXPECT_EQ(s->created_at, r.created_at);
  EXPECT_EQ(s->started_at, r.started_at);
  EXPECT_EQ(s->ip, "10.88.0.5");
  EXPECT_TRUE(RecordSummary().Annotations().empty());
}

}  // namespace
}  // namespace berth::runtime
