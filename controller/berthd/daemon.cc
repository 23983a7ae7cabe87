#include "controller/berthd/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/berthd/stop_all.h"
#include "controller/desired_state.h"
#include "controller/diff.h"
#include "controller/host_ports.h"
#include "controller/plan.h"
#include "runtime/state_store.h"
#include "runtime/sys/heap.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::berthd {
namespace {

// How often berthd looks at malloc's free memory, and how much it leaves held.
constexpr absl::Duration kHeapTrimPeriod = absl::Seconds(10);
constexpr size_t kHeapTrimThreshold = size_t{2} << 20;

using controller::NodeContainer;

// The signals ServeSignals takes; blocked in every thread.
sigset_t DaemonSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  return signals;
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
    return absl::UnavailableError(
        absl::StrCat("lock ", path, ": ", who, " drives the containers of this state directory"));
  }
  return fd;
}

// Which lifecycle hooks began for which container (HookRecords).
std::string HookRecordsDir(const Config& config) { return config.state_dir + "/hooks"; }

// The images in use: by a container on the node or wanted by a source.
std::set<std::string> ImagesInUse(runtime::Runtime& rt, const controller::Source& sources) {
  std::set<std::string> in_use;
  if (absl::StatusOr<std::vector<runtime::ContainerStatus>> all = rt.List(); all.ok()) {
    for (const runtime::ContainerStatus& c : *all) {
      if (auto it = c.annotations.find(controller::kImageAnnotation); it != c.annotations.end()) {
        in_use.insert(it->second);
      }
    }
  }
  for (const std::string& id : sources.Ids()) {
    if (std::optional<NodeContainer> o = sources.Get(id)) in_use.insert(o->spec.image);
  }
  return in_use;
}

}  // namespace

Daemon::Daemon(Config config, controller::ServiceNotifier notifier)
    : config_(std::move(config)), notifier_(std::move(notifier)) {
  // The manifests directory, unless turned off with --manifests-dir="".
  if (!config_.manifests_dir.empty()) {
    manifests_ = std::make_unique<controller::ManifestSource>(config_.manifests_dir);
    manifests_->Scan();
  }
}

Daemon::~Daemon() { Stop(); }

int Daemon::Run() {
  if (config_.dry_run) return DryRun();
  // Signals are taken by ServeSignals; every thread inherits the mask.
  const sigset_t signals = DaemonSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (absl::Status s = Start(); !s.ok()) {
    spdlog::error("{}", std::string(s.message()));
    return 1;
  }
  ServeSignals();
  Stop();
  return 0;
}

// The plan for --dry-run, from the records on disk alone: nothing is
// recovered, locked or changed.
int Daemon::DryRun() {
  std::map<std::string, std::string> observed;
  runtime::StateStore store(config_.containers_dir());
  for (const std::string& id : store.ListEntries()) {
    absl::StatusOr<runtime::ContainerRecord> r = store.Read(id);
    if (!r.ok()) continue;
    auto h = r->spec.annotations.find(controller::kSpecHashAnnotation);
    observed[id] = h == r->spec.annotations.end() ? "" : h->second;
  }
  std::vector<std::string> errors;
  std::string plan;
  manifests_->Visit([&](const controller::SourceSnapshot& snapshot) {
    errors = snapshot.errors;
    std::vector<std::string> clashes =
        controller::HostPortConflicts(snapshot.objects, config_.node_name, config_.node_labels);
    errors.insert(errors.end(), clashes.begin(), clashes.end());
    plan = controller::FormatPlan(controller::NodePlan(snapshot.objects, observed,
                                                       config_.node_name, config_.node_labels));
  });
  for (const std::string& e : errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  std::fputs(plan.c_str(), stdout);
  return errors.empty() ? 0 : 1;
}

absl::Status Daemon::Start() {
  absl::StatusOr<runtime::UniqueFd> lock = LockStateDir(config_.state_dir);
  if (!lock.ok()) return lock.status();
  lock_ = *std::move(lock);
  absl::StatusOr<std::unique_ptr<Observability>> observability = Observability::Start(config_);
  if (!observability.ok()) return observability.status();
  observability_ = *std::move(observability);
  if (absl::Status s = OpenRuntime(); !s.ok()) return s;
  absl::StatusOr<image::RegistryImageStoreOptions> image_options = ImageStoreOptionsOf(config_);
  if (!image_options.ok()) return image_options.status();
  absl::StatusOr<std::unique_ptr<image::RegistryImageStore>> images =
      image::RegistryImageStore::Open(*std::move(image_options));
  if (!images.ok()) return images.status();
  images_ = *std::move(images);
  status_files_ = std::make_unique<controller::FileStatusSink>(config_.status_dir());
  if (absl::Status s = BuildCluster(); !s.ok()) return s;
  BuildController();
  started_ = true;
  // The API lists what runs before the reconciler has looked at it (and one
  // no longer wanted as Removing while it is stopped).
  if (absl::StatusOr<std::vector<runtime::ContainerStatus>> all = runtime_->List(); all.ok()) {
    for (const runtime::ContainerStatus& c : *all) view_.Report(api::ReportOfRuntime(c));
  }

  controller_->Start();
  // Exits reach the controller as they happen; the relist is the safety net.
  absl::StatusOr<std::unique_ptr<runtime::ExitWatcher>> exits = runtime::ExitWatcher::Start(
      config_.containers_dir(), [this](const std::string& id) { exits_.Push(id); });
  if (exits.ok()) {
    exit_watcher_ = *std::move(exits);
  } else {
    spdlog::warn("{}; exits are noticed at each relist only", exits.status().ToString());
  }
  if (cluster_) {
    spdlog::info("cluster mode: API server {}, node {}", cluster_->server(), config_.node_name);
    cluster_->Start();
  }
  controller_->EnqueueAll();
  // Status files of containers that went away while berthd was not running
  // (the reconciler removes those of ids neither desired nor present).
  for (const std::string& id : status_files_->Ids()) leftover_status_.Push(id);
  // Watches the directory, then pushes what changed while the runtime
  // recovered and the watch started.
  if (manifests_) manifests_->Start(config_.manifests_debounce);
  if (absl::Status s = StartApi(); !s.ok()) return s;
  observability_->Serving(*controller_, manifests_.get(), cluster_.get(), config_.relist_period);
  // systemd (Type=notify): the runtime is recovered, the controller runs and
  // the manifests directory has been read (and the API's watches started).
  if (absl::Status s = notifier_.Ready(
          absl::StrCat("running: ", sources_->Ids().size(), " NodeContainer(s) known, ",
                       runtime_->recovery().adopted.size(), " container(s) adopted",
                       cluster_ ? ", API server " + cluster_->server() : ""));
      !s.ok()) {
    spdlog::warn("{}", s.ToString());
  }
  // Timed with the steady clock: a step of the wall clock neither skips nor
  // bunches them.
  resync_ = std::make_unique<controller::Periodic>(
      config_.resync_period, [this] { controller_->Resync(); }, controller::SteadyClock());
  image_gc_ = std::make_unique<controller::Periodic>(
      config_.image_gc_period,
      [this] {
        absl::StatusOr<image::ImageGcReport> gc =
            images_->CollectGarbage([this] { return ImagesInUse(*runtime_, *sources_); }, false);
        if (!gc.ok()) spdlog::error("image GC: {}", gc.status().ToString());
      },
      controller::SteadyClock());
  // What a burst (a converge of hundreds, a relist, a scrape) freed stays
  // in malloc's arenas: given back when more than 2 MiB is held.
  heap_trim_ = std::make_unique<controller::Periodic>(
      kHeapTrimPeriod,
      [] {
        if (const size_t held = runtime::TrimHeapAbove(kHeapTrimThreshold); held > 0) {
          spdlog::debug("gave back malloc's free memory ({} kB held)", held >> 10);
        }
      },
      controller::SteadyClock());
  resync_->Start();
  image_gc_->Start();
  heap_trim_->Start();
  return absl::OkStatus();
}

absl::Status Daemon::OpenRuntime() {
  absl::StatusOr<runtime::RuncRuntimeOptions> ro = RuntimeOptionsOf(config_);
  if (!ro.ok()) return ro.status();
  if (const std::string network = CniNetworkFile(config_); network.empty()) {
    spdlog::warn(
        "no CNI network: no *.conflist in --cni-conf-dir={}; containers not on the host "
        "network get loopback only, and those with a hostPort cannot start",
        config_.cni_conf_dir);
  } else {
    spdlog::info("CNI network {} (plugins in {})", network, config_.cni_bin_dir);
  }
  absl::StatusOr<std::unique_ptr<runtime::RuncRuntime>> rt = runtime::RuncRuntime::Open(*ro);
  if (!rt.ok()) return rt.status();
  runtime_ = *std::move(rt);
  const runtime::RecoveryReport& rec = runtime_->recovery();
  spdlog::info(
      "berthd on node {}: manifests {}, {} container(s) adopted, {} rolled back, {} orphan(s) "
      "removed",
      config_.node_name, config_.manifests_dir, rec.adopted.size(), rec.rolled_back.size(),
      rec.orphans_removed.size());
  return absl::OkStatus();
}

absl::Status Daemon::BuildCluster() {
  std::vector<controller::StatusSink*> sinks = {status_files_.get(), &observability_->status_sink(),
                                                &view_};
  std::vector<controller::EventRecorder*> recorders = {&log_events_, &view_};
  std::vector<controller::Source*> sources;
  if (manifests_) sources.push_back(manifests_.get());
  // Cluster mode: the API's objects, status, events and finalizers.
  if (config_.cluster_mode()) {
    kube::ClusterOptions ko;
    ko.node_name = config_.node_name;
    ko.kubeconfig = config_.kubeconfig;
    ko.context = config_.kube_context;
    absl::StatusOr<std::unique_ptr<kube::Cluster>> c = kube::Cluster::Create(ko);
    if (!c.ok()) {
      return absl::Status(c.status().code(), absl::StrCat("cluster mode: ", c.status().message()));
    }
    cluster_ = *std::move(c);
    sinks.push_back(&cluster_->status());
    recorders.push_back(&cluster_->events());
    sources.push_back(&cluster_->source());
  }
  status_ = std::make_unique<controller::FanOutStatusSink>(std::move(sinks));
  events_ = std::make_unique<kube::TeeEventRecorder>(std::move(recorders));
  sources_ = std::make_unique<controller::MultiSource>(std::move(sources));
  return absl::OkStatus();
}

void Daemon::BuildController() {
  controller::ReconcilerOptions reco;
  reco.events = events_.get();
  if (cluster_) {
    kube::Cluster* cluster = cluster_.get();
    reco.claim = [cluster](const NodeContainer& o) { return cluster->Claim(o); };
    reco.release = [cluster](const NodeContainer& o) { return cluster->Release(o); };
    reco.pull_auth = [cluster](const NodeContainer& o) { return cluster->PullAuthFor(o); };
    reco.current_node_labels = [cluster, flags = config_.node_labels] {
      return cluster->NodeLabels(flags);
    };
    // A nodeSelector is not decided against labels not yet listed.
    reco.node_labels_known = [cluster] { return cluster->source().NodeHasSynced(); };
  }
  reco.node_name = config_.node_name;
  reco.node_labels = config_.node_labels;
  reco.hook_records_dir = HookRecordsDir(config_);
  reco.pending_restarts_dir = config_.state_dir + "/restarts";
  reco.backoff.initial = config_.restart_backoff_initial;
  reco.backoff.max = config_.restart_backoff_max;
  // A broken manifest keeps its containers running, even across a restart
  // of berthd that lost the file's last good version; so does an API that
  // has not been listed yet.
  BuildProber(&reco);
  controller::MultiSource* sources = sources_.get();
  reco.keep_undesired = [sources](const runtime::ContainerStatus& c) {
    return !sources->MayRemove(c);
  };
  reconciler_ = std::make_unique<controller::Reconciler>(
      observability_->Instrument(*runtime_),
      [this](const std::string& id) {
        std::optional<NodeContainer> o = Desired(id);
        view_.ObserveDesired(id, o);  // the API shows what the reconciler works towards
        return o;
      },
      observability_->Instrument(*images_), *status_, controller::RealClock(), reco);
  controller::ControllerOptions co;
  co.workers = config_.workers;
  co.relist_period = config_.relist_period;
  co.queue_metrics = observability_->queue_metrics();
  controller::Reconciler* reconciler = reconciler_.get();
  controller_ = std::make_unique<controller::Controller>(
      *runtime_, observability_->Instrument([reconciler](const std::string& id) {
        return reconciler->Reconcile(id);
      }),
      controller::SteadyClock(), co);  // the queue's delays must not jump with the wall clock
  controller_->Watch(*sources_);
  controller_->Watch(exits_);
  controller_->Watch(leftover_status_);
  controller_->Watch(restarts_);
  controller_->Watch(probes_);
}

std::optional<NodeContainer> Daemon::Desired(const std::string& id) const {
  std::optional<NodeContainer> o = sources_->Get(id);
  if (!o.has_value() && cluster_) o = cluster_->source().Lookup(id);
  return o;
}

void Daemon::ServeSignals() {
  const sigset_t signals = DaemonSignals();
  while (true) {
    int sig = sigwaitinfo(&signals, nullptr);
    if (sig < 0) continue;  // EINTR
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: re-reading {}", config_.manifests_dir);
      resync_->RunNow();
      continue;
    }
    spdlog::info("signal {}: shutting down", sig);
    return;
  }
}

absl::Status Daemon::StartApi() {
  absl::StatusOr<gid_t> read_group = api::ResolveGroup(config_.api_group);
  if (!read_group.ok()) return read_group.status();
  absl::StatusOr<gid_t> admin_group = api::ResolveGroup(config_.api_admin_group);
  if (!admin_group.ok()) return admin_group.status();
  DaemonParts parts;
  parts.config = &config_;
  if (manifests_) {
    kube::Cluster* cluster = cluster_.get();
    manifest_writer_ = std::make_unique<controller::ManifestWriter>(
        config_.manifests_dir,
        [source = manifests_.get()](const std::string& id) { return source->Get(id); },
        [cluster](const std::string& id) {
          return cluster != nullptr && cluster->source().IsApiObject(id);
        });
  }
  parts.manifest_writer = manifest_writer_.get();
  parts.sources = sources_.get();
  parts.cluster = cluster_.get();
  parts.runtime = runtime_.get();
  parts.reconciler = reconciler_.get();
  parts.restarts = &restarts_;
  parts.view = &view_;
  parts.cgroup_path = [rt = runtime_.get()](const std::string& id) {
    return rt->CgroupPathFor(id);
  };
  api_backend_ = std::make_unique<DaemonApiBackend>(parts);
  api_service_ = std::make_unique<api::BerthService>(api_backend_.get());
  api_server_ = std::make_unique<api::ApiServer>(
      api::ServerOptions{config_.api_socket_path(), *read_group, *admin_group}, api_service_.get());
  return api_server_->Start();
}

void Daemon::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  observability_->NotReady("shutting down");
  if (absl::Status s =
          notifier_.Stopping(config_.stop_on_exit ? "shutting down, stopping every container"
                                                  : "shutting down, containers keep running");
      !s.ok()) {
    spdlog::warn("{}", s.ToString());
  }
  if (api_server_) api_server_->Stop();  // cancels the calls in progress
  // A pull in progress would hold up the workers (and garbage collection)
  // for as long as it takes; it resumes from its partial blobs next time.
  images_->CancelPulls();
  if (heap_trim_) heap_trim_->Stop();
  if (image_gc_) image_gc_->Stop();
  if (resync_) resync_->Stop();
  if (manifests_) manifests_->Stop();
  exit_watcher_.reset();
  if (cluster_) cluster_->source().Stop();
  prober_->Stop();  // checks in flight finish; their kills reach no worker
  controller_->Stop();
  if (config_.stop_on_exit) {
    controller::LifecycleHooks hooks(*runtime_, controller::RealClock(),
                                     {actions_.get(), HookRecordsDir(config_)});
    StopAll(*runtime_, hooks, *status_);
  } else {
    spdlog::info("containers keep running (use --stop-on-exit to stop them)");
  }
  if (cluster_) cluster_->Stop(absl::Seconds(5));  // last status writes and events
  observability_->StopServing();
}

}  // namespace berth::berthd
