// berthd: keeps the NodeContainers meant for this node running: those of a
// manifests directory and, in cluster mode, those of the Kubernetes API.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>
#include <tuple>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/controller.h"
#include "controller/desired_state.h"
#include "controller/diff.h"
#include "controller/directory_watcher.h"
#include "controller/image_store.h"
#include "controller/logging.h"
#include "controller/manifest_source.h"
#include "controller/multi_source.h"
#include "controller/notify.h"
#include "controller/reconciler.h"
#include "controller/kube/cluster.h"
#include "controller/registry_image_store.h"
#include "runtime/image/auth_config.h"
#include "controller/status.h"
#include "runtime/exit_watcher.h"
#include "runtime/runc_runtime.h"
#include "runtime/state_store.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, manifests_dir, "/etc/berth/manifests",
          "Directory of NodeContainer YAML files to keep running");
ABSL_FLAG(std::string, state_dir, "/var/lib/berth",
          "Berth's state: containers, status files, the lock");
ABSL_FLAG(std::string, run_dir, "/run/berth", "Runtime state that ends with the boot (runc's)");
ABSL_FLAG(std::string, images_dir, "",
          "Image store: pulled images, their layers, and directory images <name>/<tag>/rootfs "
          "(default: <state_dir>/images)");
ABSL_FLAG(std::string, registry_auth, "",
          "Registry credentials, a Docker config.json (\"auths\"); default: none");
ABSL_FLAG(std::vector<std::string>, insecure_registries, {},
          "Registries (host:port) spoken to over plain HTTP, comma separated");
ABSL_FLAG(std::vector<std::string>, registry_ca, {},
          "Extra CA files for registries' HTTPS: host:port=/path/ca.pem, comma separated");
ABSL_FLAG(int, image_gc_high_threshold, 85,
          "Disk usage (percent) of the image store's file system at which unused images are "
          "removed, least recently used first");
ABSL_FLAG(int, image_gc_low_threshold, 80,
          "Disk usage (percent) image GC frees down to (at most the high threshold)");
ABSL_FLAG(absl::Duration, image_gc_period, absl::Minutes(5), "How often image GC looks");
ABSL_FLAG(std::string, node_name, "",
          "This node's name (default: $NODE_NAME, else the host name)");
ABSL_FLAG(std::string, kubeconfig, "",
          "Cluster mode: run the NodeContainers of the Kubernetes API that this kubeconfig "
          "reaches (its current context)");
ABSL_FLAG(std::string, kube_context, "", "The kubeconfig context to use instead of the current one");
ABSL_FLAG(bool, in_cluster, false,
          "Cluster mode with the pod's service account (KUBERNETES_SERVICE_HOST, the token "
          "and CA under /var/run/secrets/kubernetes.io/serviceaccount)");
ABSL_FLAG(std::string, node_labels, "", "This node's labels for nodeSelector: k=v,k2=v2");
ABSL_FLAG(int, workers, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
          "Containers reconciled in parallel");
ABSL_FLAG(absl::Duration, resync_period, absl::Seconds(60),
          "Full resync: re-read the manifests and reconcile everything");
ABSL_FLAG(absl::Duration, relist_period, absl::Seconds(10),
          "How often the node's containers are listed to notice what no event reports (exits "
          "are noticed as they happen)");
ABSL_FLAG(absl::Duration, restart_backoff_initial, absl::Seconds(10),
          "First CrashLoopBackOff delay (doubles per restart)");
ABSL_FLAG(absl::Duration, restart_backoff_max, absl::Minutes(5), "Largest CrashLoopBackOff delay");
ABSL_FLAG(std::string, cgroup_parent, "/berth", "cgroup under which containers are placed");
ABSL_FLAG(std::string, rootfs_mode, "overlay",
          "How container root file systems are built from image layers: overlay, or copy "
          "(a private copy per container, for hosts without overlayfs; overlay falls back to "
          "copy by itself when a probe mount fails)");
ABSL_FLAG(std::string, runc, "", "runc binary (default: found on PATH)");
ABSL_FLAG(std::string, monitor, "", "berth-monitor binary (default: beside berthd)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(std::string, log_format, "text", "text or json");
ABSL_FLAG(bool, dry_run, false, "Print what would be done and exit without doing it");
ABSL_FLAG(bool, stop_on_exit, false,
          "On SIGTERM stop every container (each with its grace period, in parallel); "
          "by default they keep running");

namespace berth::controller {
namespace {

// absl flags use '_'; accept the '-' spelling too (--dry-run).
std::vector<char*> NormalizeFlagNames(int argc, char** argv, std::vector<std::string>* storage) {
  storage->reserve(argc);
  std::vector<char*> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && a.size() > 2 && a.rfind("--", 0) == 0) {
      size_t end = std::min(a.find('='), a.size());
      for (size_t k = 2; k < end; ++k) {
        if (a[k] == '-') a[k] = '_';
      }
    }
    storage->push_back(std::move(a));
    out.push_back(storage->back().data());
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const std::string& s) {
  std::map<std::string, std::string> out;
  for (absl::string_view kv : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.first.empty()) return absl::InvalidArgumentError(absl::StrCat("--node_labels: bad pair \"", kv, "\""));
    out[p.first] = p.second;
  }
  return out;
}

// Holds an exclusive lock on <state_dir>/berthd.lock for the process's life
// (a POSIX record lock: the kernel names its holder to whoever is refused).
absl::StatusOr<runtime::UniqueFd> LockStateDir(const std::string& state_dir) {
  if (absl::Status s = runtime::MakeDirs(state_dir, 0755); !s.ok()) return s;
  const std::string path = state_dir + "/berthd.lock";
  runtime::UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("lock ", path));
  struct flock lock = {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (fcntl(fd.get(), F_SETLK, &lock) != 0) {
    if (errno != EAGAIN && errno != EACCES) {
      return absl::ErrnoToStatus(errno, absl::StrCat("lock ", path));
    }
    struct flock holder = {};
    holder.l_type = F_WRLCK;
    holder.l_whence = SEEK_SET;
    std::string who = "another berthd";
    if (fcntl(fd.get(), F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK) {
      who = absl::StrCat("another berthd (pid ", holder.l_pid, ")");
    }
    return absl::UnavailableError(absl::StrCat(
        "lock ", path, ": ", who, " drives the containers of this state directory"));
  }
  return fd;
}

// The plan for --dry-run, from the records on disk alone: nothing is
// recovered, locked or changed.
int DryRun(ManifestSource& source, const std::string& containers_dir,
           const std::string& node_name, const std::map<std::string, std::string>& node_labels) {
  SourceSnapshot snapshot = source.Snapshot();
  std::map<std::string, std::string> desired, observed;
  for (const auto& [id, object] : snapshot.objects) {
    if (!IsForNode(object, node_name, node_labels)) continue;
    desired[id] = DesiredSpecHash(object);
  }
  runtime::StateStore store(containers_dir);
  for (const std::string& id : store.ListEntries()) {
    absl::StatusOr<runtime::ContainerRecord> r = store.Read(id);
    if (!r.ok()) continue;
    auto h = r->spec.annotations.find(kSpecHashAnnotation);
    observed[id] = h == r->spec.annotations.end() ? "" : h->second;
    // A container of an earlier release matches by that release's hash.
    if (auto d = snapshot.objects.find(id); d != snapshot.objects.end() && desired.count(id)) {
      observed[id] = EffectiveObservedHash(d->second, observed[id]);
    }
  }
  for (const std::string& e : snapshot.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  std::fputs(FormatPlan(Diff(desired, observed)).c_str(), stdout);
  return snapshot.errors.empty() ? 0 : 1;
}

absl::StatusOr<std::unique_ptr<RegistryImageStore>> OpenImages(const std::string& dir) {
  RegistryImageStoreOptions o;
  o.root = dir;
  o.gc_high_percent = absl::GetFlag(FLAGS_image_gc_high_threshold);
  o.gc_low_percent = absl::GetFlag(FLAGS_image_gc_low_threshold);
  if (o.gc_low_percent < 0 || o.gc_low_percent > o.gc_high_percent || o.gc_high_percent > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--image-gc-low-threshold=", o.gc_low_percent, " and --image-gc-high-threshold=",
        o.gc_high_percent, ": want 0 <= low <= high <= 100"));
  }
  if (const std::string auth = absl::GetFlag(FLAGS_registry_auth); !auth.empty()) {
    absl::StatusOr<image::DockerAuthConfig> config = image::DockerAuthConfig::Load(auth);
    if (!config.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--registry_auth: ", config.status().message()));
    }
    o.registry.auth = *std::move(config);
  }
  for (const std::string& r : absl::GetFlag(FLAGS_insecure_registries)) {
    if (!r.empty()) o.registry.insecure_registries.insert(r);
  }
  for (const std::string& kv : absl::GetFlag(FLAGS_registry_ca)) {
    if (kv.empty()) continue;
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.first.empty() || p.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--registry_ca: expected host:port=/path, got \"", kv, "\""));
    }
    o.registry.ca_files[p.first] = p.second;
  }
  return RegistryImageStore::Open(std::move(o));
}

// The images in use: by a container on the node or wanted by a source.
std::set<std::string> ImagesInUse(runtime::Runtime& rt, const Source& sources) {
  std::set<std::string> in_use;
  if (absl::StatusOr<std::vector<runtime::ContainerStatus>> all = rt.List(); all.ok()) {
    for (const runtime::ContainerStatus& c : *all) {
      if (auto it = c.annotations.find(kImageAnnotation); it != c.annotations.end()) {
        in_use.insert(it->second);
      }
    }
  }
  for (const std::string& id : sources.Ids()) {
    if (std::optional<NodeContainer> o = sources.Get(id)) in_use.insert(o->spec.image);
  }
  return in_use;
}

// Stops every container in parallel, each with its own grace period, and
// removes it and its status.
void StopAll(runtime::Runtime& rt, StatusSink& status) {
  absl::StatusOr<std::vector<runtime::ContainerStatus>> all = rt.List();
  if (!all.ok()) return;
  std::vector<std::thread> stoppers;
  for (const auto& c : *all) {
    stoppers.emplace_back([&rt, &status, c] {
      absl::Duration grace = absl::Seconds(IntAnnotation(c.annotations, kGracePeriodAnnotation, 30));
      if (absl::Status s = rt.Stop(c.id, grace); !s.ok()) spdlog::error("{}", s.ToString());
      if (absl::Status s = rt.Delete(c.id); !s.ok()) {
        spdlog::error("{}", s.ToString());
        return;
      }
      status.Remove(c.id);
      spdlog::info("stopped and removed container {}", c.id);
    });
  }
  for (auto& t : stoppers) t.join();
}

int Main(int argc, char** argv) {
  // Before any child or thread: no monitor or runc may inherit NOTIFY_SOCKET.
  const ServiceNotifier notifier = ServiceNotifier::FromEnvironment();
  absl::SetProgramUsageMessage("berthd: keeps the NodeContainers in a directory running on this node");
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlagNames(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (absl::Status s = SetUpLogging(absl::GetFlag(FLAGS_log_level), absl::GetFlag(FLAGS_log_format));
      !s.ok()) {
    std::fprintf(stderr, "berthd: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  const std::string images_dir =
      absl::GetFlag(FLAGS_images_dir).empty() ? state_dir + "/images" : absl::GetFlag(FLAGS_images_dir);
  std::string node_name = absl::GetFlag(FLAGS_node_name);
  if (node_name.empty() && getenv("NODE_NAME") != nullptr) node_name = getenv("NODE_NAME");
  if (node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    node_name = host;
  }
  for (const auto& [name, value] :
       {std::pair{"--resync_period", absl::GetFlag(FLAGS_resync_period)},
        std::pair{"--relist_period", absl::GetFlag(FLAGS_relist_period)},
        std::pair{"--restart_backoff_initial", absl::GetFlag(FLAGS_restart_backoff_initial)},
        std::pair{"--restart_backoff_max", absl::GetFlag(FLAGS_restart_backoff_max)}}) {
    if (value <= absl::ZeroDuration()) {
      spdlog::error("{} must be positive, not {}", name, absl::FormatDuration(value));
      return 2;
    }
  }
  if (absl::GetFlag(FLAGS_workers) < 1) {
    spdlog::error("--workers must be at least 1");
    return 2;
  }
  absl::StatusOr<std::map<std::string, std::string>> node_labels =
      ParseLabels(absl::GetFlag(FLAGS_node_labels));
  if (!node_labels.ok()) {
    spdlog::error("{}", std::string(node_labels.status().message()));
    return 2;
  }

  const std::string manifests_dir = absl::GetFlag(FLAGS_manifests_dir);
  const bool cluster_mode = !absl::GetFlag(FLAGS_kubeconfig).empty() || absl::GetFlag(FLAGS_in_cluster);
  if (manifests_dir.empty() && !cluster_mode) {
    spdlog::error("nothing to run: --manifests-dir is empty and no --kubeconfig or --in-cluster");
    return 2;
  }
  // The manifests directory, unless turned off with --manifests-dir="".
  std::unique_ptr<ManifestSource> manifests;
  if (!manifests_dir.empty()) {
    manifests = std::make_unique<ManifestSource>(manifests_dir);
    manifests->Scan();
  }
  if (absl::GetFlag(FLAGS_dry_run)) {
    if (!manifests) {
      spdlog::error("--dry-run plans the manifests directory only");
      return 2;
    }
    return DryRun(*manifests, state_dir + "/containers", node_name, *node_labels);
  }

  // Signals are taken by sigwait below; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<runtime::UniqueFd> lock = LockStateDir(state_dir);
  if (!lock.ok()) {
    spdlog::error("{}", std::string(lock.status().message()));
    return 1;
  }
  runtime::RuncRuntimeOptions ro;
  ro.state_dir = state_dir + "/containers";
  ro.runc_root = absl::GetFlag(FLAGS_run_dir) + "/runc";
  ro.runc_binary = absl::GetFlag(FLAGS_runc);
  ro.monitor_binary = absl::GetFlag(FLAGS_monitor);
  ro.cgroup_parent = absl::GetFlag(FLAGS_cgroup_parent);
  absl::StatusOr<runtime::RootfsMode> rootfs_mode = runtime::ParseRootfsMode(absl::GetFlag(FLAGS_rootfs_mode));
  if (!rootfs_mode.ok()) {
    spdlog::error("--rootfs_mode: {}", std::string(rootfs_mode.status().message()));
    return 1;
  }
  ro.rootfs_mode = *rootfs_mode;
  absl::StatusOr<std::unique_ptr<runtime::RuncRuntime>> rt = runtime::RuncRuntime::Open(ro);
  if (!rt.ok()) {
    spdlog::error("{}", std::string(rt.status().message()));
    return 1;
  }
  const runtime::RecoveryReport& rec = (*rt)->recovery();
  spdlog::info("berthd on node {}: manifests {}, {} container(s) adopted, {} rolled back, {} orphan(s) removed",
               node_name, absl::GetFlag(FLAGS_manifests_dir), rec.adopted.size(),
               rec.rolled_back.size(), rec.orphans_removed.size());

  absl::StatusOr<std::unique_ptr<RegistryImageStore>> images_or = OpenImages(images_dir);
  if (!images_or.ok()) {
    spdlog::error("{}", std::string(images_or.status().message()));
    return 1;
  }
  RegistryImageStore& images = **images_or;
  FileStatusSink status(state_dir + "/status");

  // Cluster mode: the API's objects, status, events and finalizers.
  std::atomic<Controller*> running_controller{nullptr};
  std::unique_ptr<kube::Cluster> cluster;
  if (cluster_mode) {
    kube::ClusterOptions ko;
    ko.node_name = node_name;
    ko.kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
    ko.context = absl::GetFlag(FLAGS_kube_context);
    absl::StatusOr<std::unique_ptr<kube::Cluster>> c =
        kube::Cluster::Create(ko, [&running_controller](const std::string& id) {
          if (Controller* ctl = running_controller.load()) ctl->Enqueue(id);
        });
    if (!c.ok()) {
      spdlog::error("cluster mode: {}", std::string(c.status().message()));
      return 1;
    }
    cluster = *std::move(c);
  }
  std::vector<StatusSink*> sinks = {&status};
  LogEventRecorder log_events;
  std::vector<EventRecorder*> recorders = {&log_events};
  std::vector<Source*> source_list;
  if (manifests) source_list.push_back(manifests.get());
  if (cluster) {
    sinks.push_back(&cluster->status());
    recorders.push_back(&cluster->events());
    source_list.push_back(&cluster->source());
  }
  FanOutStatusSink status_out(sinks);
  kube::TeeEventRecorder events(recorders);
  MultiSource sources(source_list);

  ReconcilerOptions reco;
  reco.events = &events;
  if (cluster) {
    reco.claim = [&cluster](const NodeContainer& o) { return cluster->Claim(o); };
    reco.release = [&cluster](const NodeContainer& o) { return cluster->Release(o); };
    reco.pull_auth = [&cluster](const NodeContainer& o) { return cluster->PullAuthFor(o); };
    // The Node object's labels, over --node-labels.
    reco.current_node_labels = [&cluster, flags = *node_labels] {
      std::map<std::string, std::string> labels = flags;
      for (auto& [k, v] : cluster->source().NodeLabels()) labels[k] = v;
      return labels;
    };
    // A nodeSelector is not decided against labels not yet listed.
    reco.node_labels_known = [&cluster] { return cluster->source().NodeHasSynced(); };
  }
  reco.node_name = node_name;
  reco.node_labels = *node_labels;
  reco.backoff.initial = absl::GetFlag(FLAGS_restart_backoff_initial);
  reco.backoff.max = absl::GetFlag(FLAGS_restart_backoff_max);
  // A broken manifest keeps its containers running, even across a restart
  // of berthd that lost the file's last good version; so does an API that
  // has not been listed yet.
  reco.keep_undesired = [&sources](const runtime::ContainerStatus& c) {
    return !sources.MayRemove(c);
  };
  auto desired = [&sources, &cluster](const std::string& id) -> std::optional<NodeContainer> {
    std::optional<NodeContainer> o = sources.Get(id);
    if (!o.has_value() && cluster) {
      // An API object no longer meant for this node: its container goes
      // and its finalizer is removed.
      o = cluster->source().Lookup(id);
      if (o.has_value()) o->origin = "api";
    }
    return o;
  };
  Reconciler reconciler(**rt, desired, images, status_out, RealClock(), reco);
  ControllerOptions co;
  co.workers = absl::GetFlag(FLAGS_workers);
  co.relist_period = absl::GetFlag(FLAGS_relist_period);
  Controller controller(
      **rt, reconciler,
      [&sources] { return sources.Ids(); },
      SteadyClock(), co);  // the queue's delays must not jump with the wall clock

  // ManifestSource logs what changed and each new error itself. When what
  // keep_undesired looks at changes, every container is looked at again.
  auto rescan = [&] {
    auto guard_inputs = [](const SourceSnapshot& s) {
      return std::make_tuple(s.failed_files, s.objects_unknown, s.directory_unreadable);
    };
    if (!manifests) return;
    const auto before = guard_inputs(manifests->Snapshot());
    for (const std::string& id : manifests->Scan()) controller.Enqueue(id);
    if (guard_inputs(manifests->Snapshot()) != before) controller.EnqueueAll();
  };
  controller.Start();
  running_controller = &controller;
  // Exits reach the controller as they happen; the relist is the safety net.
  absl::StatusOr<std::unique_ptr<runtime::ExitWatcher>> exits = runtime::ExitWatcher::Start(
      ro.state_dir, [&controller](const std::string& id) { controller.Enqueue(id); });
  if (!exits.ok()) {
    spdlog::warn("{}; exits are noticed at each relist only", exits.status().ToString());
  }
  if (cluster) {
    spdlog::info("cluster mode: API server {}, node {}", cluster->server(), node_name);
    cluster->Start();
  }
  controller.EnqueueAll();
  // Status files of containers that went away while berthd was not running
  // (the reconciler removes those of ids neither desired nor present).
  for (const std::string& id : status.Ids()) controller.Enqueue(id);
  absl::StatusOr<std::unique_ptr<DirectoryWatcher>> watcher =
      manifests ? DirectoryWatcher::Start(manifests_dir, absl::Milliseconds(100), rescan)
                : absl::StatusOr<std::unique_ptr<DirectoryWatcher>>(nullptr);
  if (!watcher.ok()) {
    spdlog::warn("{}; changes are noticed at each resync only", watcher.status().ToString());
  }
  rescan();  // what changed while the runtime recovered and the watcher started
  // systemd (Type=notify): the runtime is recovered, the controller runs and
  // the manifests directory has been read (and the API's watches started).
  if (absl::Status s = notifier.Ready(absl::StrCat(
          "running: ", sources.Ids().size(), " NodeContainer(s) known, ", rec.adopted.size(),
          " container(s) adopted", cluster ? ", API server " + cluster->server() : ""));
      !s.ok()) {
    spdlog::warn("{}", s.ToString());
  }

  // Resyncs run on their own thread, so this one only waits for signals.
  struct {
    absl::Mutex mu;
    absl::CondVar cv;
    bool now = false;
    bool stop = false;
  } resync;
  std::thread resyncer([&] {
    const absl::Duration resync_period = absl::GetFlag(FLAGS_resync_period);
    const absl::Duration gc_period = absl::GetFlag(FLAGS_image_gc_period);
    absl::Time next_resync = absl::Now() + resync_period;
    absl::Time next_gc = absl::Now() + gc_period;
    // Until the API's first list, what it no longer holds is unknown; once
    // listed, everything is looked at again.
    bool api_listed = !cluster;
    while (true) {
      bool due = false;
      {
        absl::MutexLock l(&resync.mu);
        if (!resync.now && !resync.stop) {
          absl::Time until = std::min(next_resync, next_gc);
          if (!api_listed) until = std::min(until, absl::Now() + absl::Milliseconds(100));
          resync.cv.WaitWithDeadline(&resync.mu, until);
        }
        if (resync.stop) return;
        due = resync.now || absl::Now() >= next_resync;
        resync.now = false;
      }
      if (!api_listed && cluster->source().HasSynced()) {
        api_listed = true;
        due = true;
        spdlog::info("cluster mode: the API is listed");
      }
      if (due) {
        rescan();
        controller.EnqueueAll();
        next_resync = absl::Now() + resync_period;
      }
      if (absl::Now() >= next_gc) {
        absl::StatusOr<ImageGcReport> gc =
            images.CollectGarbage([&] { return ImagesInUse(**rt, sources); }, false);
        if (!gc.ok()) spdlog::error("image GC: {}", gc.status().ToString());
        next_gc = absl::Now() + gc_period;
      }
    }
  });
  while (true) {
    int sig = sigwaitinfo(&signals, nullptr);
    if (sig < 0) continue;  // EINTR
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: re-reading {}", manifests_dir);
      absl::MutexLock l(&resync.mu);
      resync.now = true;
      resync.cv.Signal();
      continue;
    }
    spdlog::info("signal {}: shutting down", sig);
    break;
  }
  if (absl::Status s = notifier.Stopping(absl::GetFlag(FLAGS_stop_on_exit)
                                             ? "shutting down, stopping every container"
                                             : "shutting down, containers keep running");
      !s.ok()) {
    spdlog::warn("{}", s.ToString());
  }
  // A pull in progress would hold up the workers (and garbage collection)
  // for as long as it takes; it resumes from its partial blobs next time.
  images.CancelPulls();
  {
    absl::MutexLock l(&resync.mu);
    resync.stop = true;
    resync.cv.Signal();
  }
  resyncer.join();
  if (watcher.ok()) watcher->reset();
  if (exits.ok()) exits->reset();
  if (cluster) cluster->source().Stop();
  controller.Stop();
  if (absl::GetFlag(FLAGS_stop_on_exit)) {
    StopAll(**rt, status_out);
  } else {
    spdlog::info("containers keep running (use --stop-on-exit to stop them)");
  }
  if (cluster) cluster->Stop(absl::Seconds(5));  // last status writes and events
  return 0;
}

}  // namespace
}  // namespace berth::controller

int main(int argc, char** argv) { return berth::controller::Main(argc, argv); }
