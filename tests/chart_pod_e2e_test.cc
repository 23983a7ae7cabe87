// The chart's pod run as a kubelet would run it: `helm install` puts
// charts/berth into the API emulator, the DaemonSet's pod template is taken
// from the API as it is, and its
// container runs from the berthd image (hack/build-image, pushed to a real
// registry on 127.0.0.1) with real runc, honouring what the template says:
// privileged, hostPID, hostNetwork, the hostPath volumes with their mount
// propagation, the env (NODE_NAME from spec.nodeName), the service account
// token and CA at /var/run/secrets/kubernetes.io/serviceaccount (a token of
// the chart's ServiceAccount, from `kubectl create token`: the emulator
// enforces the chart's RBAC) and KUBERNETES_SERVICE_HOST/PORT pointing at the
// API emulator over TLS. The chart is installed and upgraded with the real
// helm into the emulator, and the pod is made from the DaemonSet the API
// holds.
// berthd in it runs a NodeContainer applied with kubectl; an upgrade to a
// new image tag replaces the pod and the container keeps its pid. With the
// default network (hack/cni/10-berth.conflist) in the chart's CNI
// configuration directory and the machine's plugins (/usr/lib/cni), a
// NodeContainer off the host network gets an address and answers on its
// hostPort: the plugins run iptables from berthd's image.
//
// The "node" is a network namespace of the test's own: the test process
// leaves the machine's before main, and everything it starts (the API
// emulator, the registry, the pod, whose host network is that namespace,
// and so the bridge, the addresses and the iptables rules the CNI plugins
// make) is there. Nothing is made in the machine's network namespace, and
// every packet goes to 127.0.0.1 or to the bridge in that namespace.
//
// Like a kubelet, the test makes the Bidirectional host paths shared mounts
// first (kubelet refuses them otherwise; systemd makes / shared on real
// nodes): bind mounts of the test's own directories, undone at the end.
#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/kube/testing/kube_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/network/netns.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/http_get.h"
#include "tests/processes.h"
#include "tests/registry_env.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::RegistryEnv;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::IsEmpty;

// Before main and before any thread: this process and every process it
// starts are in a new network namespace with loopback up.
const bool kInOwnNetns = [] {
  if (absl::Status s = runtime::network::EnterNewNetns(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    abort();
  }
  return true;
}();

constexpr absl::Duration kWait = absl::Seconds(90);
constexpr char kToken[] = "admin-token";  // the emulator's admin (helm, kubectl)
constexpr char kNamespace[] = "berth-system";
constexpr char kNode[] = "pod-node";

// The names in `dir` (none when it does not exist).
std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
  }
  return names;
}

runtime::CommandResult RunTool(const std::vector<std::string>& argv,
                               absl::Duration timeout = absl::Minutes(3)) {
  absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, timeout);
  if (!r.ok()) return runtime::CommandResult{-1, r.status().ToString()};
  return *r;
}

// What a privileged container gets: every capability the runtime has
// itself (containerd's privileged: its own bounding set), here the test's.
std::vector<std::string> AllCapabilities() {
  // In the order of their numbers.
  static const std::vector<std::string> names = {"CAP_CHOWN",
                                                 "CAP_DAC_OVERRIDE",
                                                 "CAP_DAC_READ_SEARCH",
                                                 "CAP_FOWNER",
                                                 "CAP_FSETID",
                                                 "CAP_KILL",
                                                 "CAP_SETGID",
                                                 "CAP_SETUID",
                                                 "CAP_SETPCAP",
                                                 "CAP_LINUX_IMMUTABLE",
                                                 "CAP_NET_BIND_SERVICE",
                                                 "CAP_NET_BROADCAST",
                                                 "CAP_NET_ADMIN",
                                                 "CAP_NET_RAW",
                                                 "CAP_IPC_LOCK",
                                                 "CAP_IPC_OWNER",
                                                 "CAP_SYS_MODULE",
                                                 "CAP_SYS_RAWIO",
                                                 "CAP_SYS_CHROOT",
                                                 "CAP_SYS_PTRACE",
                                                 "CAP_SYS_PACCT",
                                                 "CAP_SYS_ADMIN",
                                                 "CAP_SYS_BOOT",
                                                 "CAP_SYS_NICE",
                                                 "CAP_SYS_RESOURCE",
                                                 "CAP_SYS_TIME",
                                                 "CAP_SYS_TTY_CONFIG",
                                                 "CAP_MKNOD",
                                                 "CAP_LEASE",
                                                 "CAP_AUDIT_WRITE",
                                                 "CAP_AUDIT_CONTROL",
                                                 "CAP_SETFCAP",
                                                 "CAP_MAC_OVERRIDE",
                                                 "CAP_MAC_ADMIN",
                                                 "CAP_SYSLOG",
                                                 "CAP_WAKE_ALARM",
                                                 "CAP_BLOCK_SUSPEND",
                                                 "CAP_AUDIT_READ",
                                                 "CAP_PERFMON",
                                                 "CAP_BPF",
                                                 "CAP_CHECKPOINT_RESTORE"};
  uint64_t bounding = 0;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "CapBnd:")) bounding = std::stoull(line.substr(7), nullptr, 16);
  }
  std::vector<std::string> caps;
  for (size_t i = 0; i < names.size(); ++i) {
    if (bounding & (uint64_t{1} << i)) caps.push_back(names[i]);
  }
  return caps;
}

class ChartPodE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kInOwnNetns);
    // The pod shares the node's network: its metrics port must be free.
    absl::StatusOr<int> port = berth::testing::FreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    metrics_port_ = *port;
    pki_ = world_.dir() + "/pki";
    ASSERT_TRUE(runtime::MakeDirs(pki_).ok());
    ASSERT_TRUE(kube::testing::MakePki(pki_).ok());
    kube::testing::Emulator::Options o;
    o.tls = true;
    o.token = kToken;
    o.pki_dir = pki_;
    emulator_ = std::make_unique<kube::testing::Emulator>(o);
    ASSERT_TRUE(emulator_->started());
    // The chart brings the CRD (helm installs crds/ first).
    ASSERT_EQ(Kubectl({"create", "namespace", kNamespace}).exit_code, 0);

    auto registry = RegistryEnv::Start();
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    ASSERT_TRUE(registry_->PushTestImages({"busybox"}).ok());
    repo_ = registry_->host() + "/berth/berthd";
    runtime::CommandResult built =
        RunTool({BERTH_SOURCE_DIR "/hack/build-image", "--build-dir=" BERTH_BUILD_DIR, "--tag=one",
                 "--push=" + repo_, "--tls-verify=false", world_.dir() + "/layout"});
    ASSERT_EQ(built.exit_code, 0) << built.output;
    // The next release: the same files under a new tag.
    runtime::CommandResult copied =
        RunTool({runtime::FindExecutable("skopeo"), "copy", "-q", "--dest-tls-verify=false",
                 "oci:" + world_.dir() + "/layout:berthd:one", "docker://" + repo_ + ":two"});
    ASSERT_EQ(copied.exit_code, 0) << copied.output;

    for (const std::string& dir : {world_.berth_state_dir(), world_.run_dir()}) {
      ASSERT_TRUE(runtime::MakeDirs(dir).ok());
      ASSERT_EQ(mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr), 0) << dir;
      shared_.push_back(dir);
      ASSERT_EQ(mount(nullptr, dir.c_str(), nullptr, MS_SHARED, nullptr), 0) << dir;
    }
    secrets_ = world_.dir() + "/serviceaccount";
    ASSERT_TRUE(runtime::MakeDirs(secrets_).ok());
    ASSERT_TRUE(runtime::WriteFileAtomic(secrets_ + "/namespace", kNamespace).ok());
    ASSERT_EQ(RunTool({"/bin/cp", pki_ + "/ca.crt", secrets_ + "/ca.crt"}).exit_code, 0);
  }

  void TearDown() override {
    for (const std::string& pod : pods_) StopPod(pod);
    EXPECT_THAT(world_.RemoveContainers(), ::testing::IsEmpty());
    registry_.reset();
    emulator_.reset();
    for (auto it = shared_.rbegin(); it != shared_.rend(); ++it) {
      EXPECT_EQ(umount2(it->c_str(), MNT_DETACH), 0) << *it;
    }
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) {
      for (const std::string& pod : pods_) {
        std::cerr << "pod " << pod << " log:\n"
                  << runtime::ReadFile(PodDir(pod) + "/log").value_or("") << "\n";
      }
    }
  }

  std::string PodDir(const std::string& pod) const { return world_.dir() + "/pods/" + pod; }
  std::string PodRuncRoot() const { return world_.dir() + "/pods/runc"; }

  // `helm install` (or `helm upgrade` when installed) of the chart into the
  // emulator with the image tag `tag`; returns the DaemonSet the API then
  // holds, as a kubelet would see it.
  json HelmInstallOrUpgrade(const std::string& tag) {
    const std::string values = world_.dir() + "/values-" + tag + ".yaml";
    json v = {{"image", {{"repository", repo_}, {"tag", tag}, {"pullPolicy", "IfNotPresent"}}},
              // The test's own directories (CNI state and configuration too:
              // nothing made on the machine); the machine's plugins, read-only.
              {"hostPaths",
               {{"stateDir", world_.berth_state_dir()},
                {"runDir", world_.run_dir()},
                {"cniBinDir", "/usr/lib/cni"},
                {"cniConfDir", world_.cni_conf_dir()},
                {"cniDataDir", world_.dir() + "/cni/data"},
                {"xtablesLock", world_.dir() + "/xtables.lock"}}},
              {"berthd", {{"metricsAddr", absl::StrCat("127.0.0.1:", metrics_port_)}}},
              {"extraArgs", json::array({"--cgroup-parent=" + world_.cgroup_parent(),
                                         "--insecure-registries=" + registry_->host()})}};
    EXPECT_TRUE(runtime::WriteFileAtomic(values, v.dump()).ok());  // JSON is YAML
    const std::string home = world_.dir() + "/helm";
    runtime::CommandResult r =
        RunTool({"/usr/bin/env", "HELM_CACHE_HOME=" + home, "HELM_CONFIG_HOME=" + home,
                 "HELM_DATA_HOME=" + home, BERTH_HELM, "upgrade", "--install", "berth",
                 BERTH_SOURCE_DIR "/charts/berth", "--namespace", kNamespace, "-f", values,
                 "--kubeconfig", emulator_->kubeconfig()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    runtime::CommandResult ds =
        Kubectl({"-n", kNamespace, "get", "daemonset", "berth", "-o", "json"});
    EXPECT_EQ(ds.exit_code, 0) << ds.output;
    absl::StatusOr<json> j = kube::testing::YamlToJson(ds.output);
    EXPECT_TRUE(j.ok()) << ds.output;
    return j.ok() ? *j : json::object();
  }

  // A token of the pod's ServiceAccount (the kubelet's projected token).
  void WriteServiceAccountToken(const json& daemonset) {
    const std::string account = daemonset["spec"]["template"]["spec"]["serviceAccountName"];
    runtime::CommandResult token = Kubectl({"-n", kNamespace, "create", "token", account});
    ASSERT_EQ(token.exit_code, 0) << token.output;
    ASSERT_TRUE(runtime::WriteFileAtomic(secrets_ + "/token",
                                         std::string(absl::StripAsciiWhitespace(token.output)))
                    .ok());
  }

  // Runs the pod template's only container as a kubelet would, as `pod`.
  void StartPod(const std::string& pod, const json& daemonset) {
    const json& spec = daemonset["spec"]["template"]["spec"];
    ASSERT_EQ(spec["containers"].size(), 1u);
    const json& c = spec["containers"][0];
    const std::string dir = PodDir(pod);
    ASSERT_TRUE(runtime::MakeDirs(dir + "/rootfs").ok());

    // The image: pulled, its layers unpacked in order.
    runtime::CommandResult pulled =
        RunTool({runtime::FindExecutable("skopeo"), "copy", "-q", "--src-tls-verify=false",
                 "docker://" + c["image"].get<std::string>(), "oci:" + dir + "/image:pod"});
    ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
    auto blob = [&](const std::string& digest) {
      return dir + "/image/blobs/sha256/" + digest.substr(digest.find(':') + 1);
    };
    json index = json::parse(*runtime::ReadFile(dir + "/image/index.json"));
    json manifest =
        json::parse(*runtime::ReadFile(blob(index["manifests"][0]["digest"].get<std::string>())));
    json config = json::parse(*runtime::ReadFile(blob(manifest["config"]["digest"])));
    for (const json& layer : manifest["layers"]) {
      runtime::CommandResult untar =
          RunTool({"/bin/tar", "-xzf", blob(layer["digest"]), "-C", dir + "/rootfs"});
      ASSERT_EQ(untar.exit_code, 0) << untar.output;
    }

    // What the template asks for.
    EXPECT_TRUE(spec.value("hostPID", false));
    EXPECT_TRUE(spec.value("hostNetwork", false));
    EXPECT_TRUE(c["securityContext"].value("privileged", false));
    std::vector<std::string> args = config["config"]["Entrypoint"];
    if (c.contains("command")) args = c["command"].get<std::vector<std::string>>();
    for (const json& a : c.value("args", json::array())) args.push_back(a);
    std::vector<std::string> env = config["config"].value("Env", std::vector<std::string>{});
    for (const json& e : c.value("env", json::array())) {
      if (e.contains("value")) {
        env.push_back(e["name"].get<std::string>() + "=" + e["value"].get<std::string>());
      } else {
        ASSERT_EQ(e["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName") << e.dump();
        env.push_back(e["name"].get<std::string>() + "=" + kNode);
      }
    }
    env.push_back("KUBERNETES_SERVICE_HOST=127.0.0.1");
    env.push_back(absl::StrCat("KUBERNETES_SERVICE_PORT=", emulator_->port()));

    json mounts = json::array({
        {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "bind"},
         {"source", "/dev"},
         {"options", {"rbind", "rw"}}},
        {{"destination", "/sys"},
         {"type", "sysfs"},
         {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "rw"}}},
        {{"destination", "/var/run/secrets/kubernetes.io/serviceaccount"},
         {"type", "bind"},
         {"source", secrets_},
         {"options", {"rbind", "ro"}}},
    });
    bool bidirectional = false;
    std::map<std::string, json> volumes;
    for (const json& v : spec["volumes"]) volumes[v["name"]] = v;
    for (const json& m : c["volumeMounts"]) {
      const json& v = volumes.at(m["name"]);
      ASSERT_TRUE(v.contains("hostPath")) << v.dump();
      std::string propagation = m.value("mountPropagation", "None");
      std::vector<std::string> options = {"rbind", m.value("readOnly", false) ? "ro" : "rw"};
      if (propagation == "Bidirectional") {
        options.push_back("rshared");
        bidirectional = true;
      } else if (propagation == "HostToContainer") {
        options.push_back("rslave");
      } else {
        options.push_back("rprivate");
      }
      const std::string host = v["hostPath"]["path"];
      if (v["hostPath"].value("type", "") == "DirectoryOrCreate") {
        ASSERT_TRUE(runtime::MakeDirs(host).ok());
      } else if (v["hostPath"].value("type", "") == "FileOrCreate" &&
                 access(host.c_str(), F_OK) != 0) {
        ASSERT_TRUE(runtime::WriteFileAtomic(host, "").ok()) << host;
      }
      mounts.push_back({{"destination", m["mountPath"]},
                        {"type", "bind"},
                        {"source", host},
                        {"options", options}});
    }
    const std::vector<std::string> caps = AllCapabilities();
    json oci = {
        {"ociVersion", "1.0.2"},
        {"process",
         {{"terminal", false},
          {"user", {{"uid", 0}, {"gid", 0}}},
          {"args", args},
          {"env", env},
          {"cwd", config["config"].value("WorkingDir", "/").empty()
                      ? "/"
                      : config["config"].value("WorkingDir", "/")},
          {"capabilities",
           {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", caps}}},
          {"noNewPrivileges", false}}},
        {"root", {{"path", "rootfs"}, {"readonly", false}}},
        {"mounts", mounts},
        {"linux",
         {// hostPID and hostNetwork (and so the node's UTS): no pid, network
          // or uts namespace of its own.
          {"namespaces", json::array({{{"type", "mount"}}, {{"type", "ipc"}}})},
          {"cgroupsPath", world_.cgroup_parent() + "/pod-" + pod},
          {"rootfsPropagation", bidirectional ? "rshared" : "rslave"}}}};
    ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/config.json", oci.dump(2)).ok());
    runtime::CommandResult started = RunTool(
        {"/bin/sh", "-c",
         absl::StrCat("cd '", dir, "' && exec '", runtime::FindExecutable("runc"), "' --root '",
                      PodRuncRoot(), "' run -d --pid-file pid berthd-", pod, " >log 2>&1")},
        absl::Seconds(60));
    ASSERT_EQ(started.exit_code, 0)
        << started.output << runtime::ReadFile(dir + "/log").value_or("");
    pods_.push_back(pod);
  }

  // The pod's termination: SIGTERM, then SIGKILL after its grace period.
  void StopPod(const std::string& pod) {
    const std::string runc = runtime::FindExecutable("runc");
    const std::string id = "berthd-" + pod;
    RunTool({runc, "--root", PodRuncRoot(), "kill", id, "TERM"}, absl::Seconds(10));
    WaitFor(
        [&] {
          runtime::CommandResult s = RunTool({runc, "--root", PodRuncRoot(), "state", id});
          return s.exit_code != 0 || absl::StrContains(s.output, "\"stopped\"");
        },
        absl::Seconds(30));
    RunTool({runc, "--root", PodRuncRoot(), "delete", "-f", id}, absl::Seconds(30));
    pods_.erase(std::remove(pods_.begin(), pods_.end(), pod), pods_.end());
  }

  std::string PodLog(const std::string& pod) const {
    return runtime::ReadFile(PodDir(pod) + "/log").value_or("");
  }

  // What the CNI plugins leave in the test's network namespace and the
  // pod's files while a container of the default network exists: portmap's
  // per-container chain and the bridge's masquerade rules (commented with
  // the container id; portmap's shared chains stay), host-local's
  // allocations (its default dataDir /var/lib/cni/networks: on a node the
  // chart mounts the node's /var/lib/cni there; here the test's cniDataDir
  // is mounted at its own path, so they are in the pod's root file system)
  // and the container's network namespace file.
  std::vector<std::string> NetworkState(const std::string& pod) {
    std::vector<std::string> state;
    runtime::CommandResult nat = RunTool({"/usr/sbin/iptables", "-t", "nat", "-S"});
    if (nat.exit_code != 0) state.push_back("iptables -t nat -S: " + nat.output);
    for (absl::string_view line : absl::StrSplit(nat.output, '\n')) {
      if (absl::StrContains(line, "CNI-DN-") || absl::StrContains(line, "id: \\\"")) {
        state.push_back(absl::StrCat("iptables: ", line));
      }
    }
    const std::string allocations = PodDir(pod) + "/rootfs/var/lib/cni/networks/berth";
    for (const std::string& f : DirEntries(allocations)) {
      if (absl::StartsWith(f, "10.")) state.push_back("IP allocated: " + f);
    }
    for (const std::string& f : DirEntries(world_.netns_dir())) {
      state.push_back("network namespace: " + f);
    }
    return state;
  }

  runtime::CommandResult Kubectl(const std::vector<std::string>& args,
                                 const std::string& input = "") {
    std::vector<std::string> argv = {berth::testing::KubectlPath(),
                                     "--kubeconfig=" + emulator_->kubeconfig(),
                                     "--cache-dir=" + world_.dir() + "/kubectl-cache"};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, absl::Seconds(30), input);
    if (!r.ok()) return runtime::CommandResult{-1, r.status().ToString()};
    return *r;
  }

  // helm install of the tag `one`, its pod started with the chart's
  // ServiceAccount token until berthd runs in cluster mode: the DaemonSet.
  json InstallAndStartPodOne() {
    json one = HelmInstallOrUpgrade("one");
    WriteServiceAccountToken(one);
    StartPod("one", one);
    EXPECT_TRUE(WaitFor([&] { return absl::StrContains(PodLog("one"), "cluster mode"); }, kWait))
        << PodLog("one");
    return one;
  }

  // kubectl apply of the NodeContainer default/web on this node, busybox
  // from the test registry with the rest of its spec `spec_tail` (YAML
  // lines indented by two), and its status file once it runs.
  json ApplyWebUntilRunning(const std::string& spec_tail) {
    const std::string manifest = absl::StrCat(
        "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: web\n"
        "  namespace: default\nspec:\n  nodeName: ",
        kNode, "\n  image: ", registry_->host(), "/busybox:1\n", spec_tail);
    runtime::CommandResult applied = Kubectl({"apply", "-f", "-"}, manifest);
    EXPECT_EQ(applied.exit_code, 0) << applied.output;
    json status = berth::testing::WaitStatusFile(world_.berth_state_dir(), "default.web",
                                                 berth::testing::IsRunning, kWait);
    EXPECT_TRUE(berth::testing::IsRunning(status)) << status.dump() << PodLog("one");
    return status;
  }

  TestWorld world_;
  std::string pki_, repo_, secrets_;
  std::unique_ptr<kube::testing::Emulator> emulator_;
  std::unique_ptr<RegistryEnv> registry_;
  std::vector<std::string> shared_;
  std::vector<std::string> pods_;
  int metrics_port_ = 0;
};

TEST_F(ChartPodE2eTest, ThePodRunsANodeContainerAndAnUpgradeKeepsItsPid) {
  const json one = InstallAndStartPodOne();
  ASSERT_FALSE(HasFailure());
  json status = ApplyWebUntilRunning(
      "  command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; "
      "done\"]\n");
  ASSERT_TRUE(berth::testing::IsRunning(status));
  const int pid = status["pid"];
  ASSERT_GT(pid, 0);
  // The API has the status too: berthd's writes went through with the
  // token of the chart's ServiceAccount, under the chart's ClusterRole (the
  // emulator enforces RBAC).
  ASSERT_TRUE(WaitFor(
      [&] {
        runtime::CommandResult r = Kubectl({"get", "nc", "web", "-o", "json"});
        return r.exit_code == 0 && absl::StrContains(r.output, "\"Running\"");
      },
      kWait))
      << Kubectl({"get", "nc", "web", "-o", "json"}).output;

  // kubelet's probes as the template gives them: on the node's loopback (the
  // pod has the node's network), berthd is live and ready.
  const json& container = one["spec"]["template"]["spec"]["containers"][0];
  for (const char* probe : {"livenessProbe", "readinessProbe"}) {
    const json& get = container[probe]["httpGet"];
    EXPECT_EQ(get["host"], "127.0.0.1") << probe;
    EXPECT_EQ(get["port"], metrics_port_) << probe;
    berth::testing::HttpResponse r;
    EXPECT_TRUE(WaitFor(
        [&] {
          r = berth::testing::HttpGet(get["port"].get<int>(), get["path"].get<std::string>());
          return r.code == 200;
        },
        kWait))
        << probe << ": " << r.code << " " << r.body << PodLog("one");
  }

  // helm upgrade to the tag two: the DaemonSet's pod is replaced.
  json upgraded = HelmInstallOrUpgrade("two");
  ASSERT_EQ(upgraded["spec"]["template"]["spec"]["containers"][0]["image"], repo_ + ":two");
  StopPod("one");
  EXPECT_EQ(kill(pid, 0), 0) << "the container died with its berthd pod";
  StartPod("two", upgraded);
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(PodLog("two"), "1 container(s) adopted"); }, kWait))
      << PodLog("two");
  // Adopted, not recreated: the same process, no restart.
  absl::SleepFor(absl::Seconds(1));
  json after = berth::testing::ReadStatusFile(world_.berth_state_dir(), "default.web");
  EXPECT_EQ(after["pid"], pid) << after.dump();
  EXPECT_EQ(after.value("restartCount", 0), 0) << after.dump();
  EXPECT_EQ(kill(pid, 0), 0);

  runtime::CommandResult deleted = Kubectl({"delete", "nc", "web", "--wait=false"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_TRUE(WaitFor([&] { return kill(pid, 0) != 0; }, kWait)) << PodLog("two");
}

TEST_F(ChartPodE2eTest, ANodeContainerOnTheDefaultNetworkAnswersOnItsHostPort) {
  // The default network, as hack/setup installs it, in the chart's
  // cniConfDir; the plugins are the machine's (/usr/lib/cni).
  ASSERT_TRUE(runtime::MakeDirs(world_.cni_conf_dir()).ok());
  ASSERT_EQ(RunTool({"/bin/cp", BERTH_SOURCE_DIR "/hack/cni/10-berth.conflist",
                     world_.cni_conf_dir() + "/10-berth.conflist"})
                .exit_code,
            0);
  InstallAndStartPodOne();
  ASSERT_FALSE(HasFailure());
  json status = ApplyWebUntilRunning(
      "  command: [sh, -c, 'echo hello from $(hostname) >/tmp/index.html; exec httpd "
      "-f -p 8080 -h /tmp']\n  stopSignal: SIGKILL\n"
      "  ports: [{containerPort: 8080, hostPort: 18080}]\n");
  ASSERT_TRUE(berth::testing::IsRunning(status));
  const int pid = status["pid"];
  const std::string ip = status.value("ip", "");
  ASSERT_THAT(ip, ::testing::StartsWith("10.87.")) << status.dump();
  // The plugins' rules, made by the image's iptables, are the ones the
  // node's iptables sees (the same backend).
  const std::vector<std::string> running = NetworkState("one");
  EXPECT_TRUE(std::any_of(running.begin(), running.end(), [](const std::string& l) {
    return absl::StrContains(l, "CNI-DN-");
  })) << ::testing::PrintToString(running);
  EXPECT_THAT(running, ::testing::Contains("IP allocated: " + ip));

  // On its address, on its hostPort through portmap on the bridge's
  // address and on the node's loopback.
  for (const auto& [host, port] : std::vector<std::pair<std::string, int>>{
           {ip, 8080}, {"10.87.0.1", 18080}, {"127.0.0.1", 18080}}) {
    berth::testing::HttpResponse r;
    EXPECT_TRUE(WaitFor(
        [&] {
          r = berth::testing::HttpGetAt(host, port, "/");
          return r.code == 200;
        },
        absl::Seconds(10)))
        << host << ":" << port << ": " << r.code << " " << r.body;
    EXPECT_THAT(r.body, ::testing::HasSubstr("hello from web")) << host << ":" << port;
  }

  // Deleted: the rules, the address and the namespace go with it.
  runtime::CommandResult deleted = Kubectl({"delete", "nc", "web", "--wait=false"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_TRUE(WaitFor([&] { return kill(pid, 0) != 0 && NetworkState("one").empty(); }, kWait))
      << ::testing::PrintToString(NetworkState("one")) << PodLog("one");
}

}  // namespace
}  // namespace berth
