// The runtime's checkpoint on disk: one directory per container holding a
// versioned record (state.json, written atomically), the OCI bundle, the
// overlay's upper and work directories, the log and the monitor's files.
// The record's JSON form (record version 1, CONTRACT.md) is defined in
// state_store.cc alone: later releases read what earlier ones wrote, so a
// change of it needs a new version.
#ifndef BERTH_RUNTIME_STATE_STORE_H_
#define BERTH_RUNTIME_STATE_STORE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/container_spec.h"

namespace berth::runtime {

// Where a container is in its life, as far as the runtime's own actions go.
// Whether it has exited is read from the monitor's exit file instead.
enum class RecordPhase { kCreating, kCreated, kStarted, kDeleting };

struct ContainerRecord {
  static constexpr int kVersion = 1;
  ContainerSpec spec;
  RecordPhase phase = RecordPhase::kCreating;
  std::string cgroups_path;
  pid_t monitor_pid = 0;
  uint64_t monitor_start_time = 0;  // see ProcessStartTime
  pid_t pid = 0;
  uint64_t pid_start_time = 0;
  absl::Time created_at = absl::InfinitePast();
  absl::Time started_at = absl::InfinitePast();
  // Its network namespace file (CNI), empty when runc made the namespace
  // or it has none; its address on the CNI network, empty for none.
  std::string netns_path;
  std::string ip;
  // The boot the pids belong to. Read clears the pids of a record from
  // another boot: they may name unrelated processes now.
  std::string boot_id;
};

// What is read of every container's record at every relist and for every
// host-port check (RuncRuntime::ReadState, CheckHostPorts). StateStore keeps
// it for every container, while the whole record (rootfs layers, argv, env,
// mounts, ...) is parsed only when asked for.
struct RecordSummary {
  RecordPhase phase = RecordPhase::kCreating;
  std::map<std::string, std::string> labels;       // spec.labels
  // spec.annotations, packed in one string (Annotations() unpacks them):
  // as a map, Berth's eleven take ~2.3 kB of nodes and strings, kept for
  // every container.
  std::string packed_annotations;
  std::map<std::string, std::string> Annotations() const;
  std::vector<PortMapping> ports;                  // spec.ports
  std::string cgroups_path;
  pid_t monitor_pid = 0;
  uint64_t monitor_start_time = 0;
  pid_t pid = 0;
  uint64_t pid_start_time = 0;
  absl::Time created_at = absl::InfinitePast();
  absl::Time started_at = absl::InfinitePast();
  std::string ip;
};
RecordSummary SummaryOf(const ContainerRecord& record);

// What the monitor wrote when the container ended.
struct ExitRecord {
  int exit_code = 0;
  int signal = 0;
  bool oom_killed = false;
  absl::Time finished_at = absl::InfinitePast();
};

class StateStore {
 public:
  explicit StateStore(std::string root);

  // Creates the root; call once before use.
  absl::Status Init();

  const std::string& root() const { return root_; }
  std::string ContainerDir(const std::string& id) const;
  std::string BundleDir(const std::string& id) const { return ContainerDir(id) + "/bundle"; }
  std::string RootfsDir(const std::string& id) const { return BundleDir(id) + "/rootfs"; }
  std::string UpperDir(const std::string& id) const { return ContainerDir(id) + "/upper"; }
  std::string WorkDir(const std::string& id) const { return ContainerDir(id) + "/work"; }
  std::string ExitFile(const std::string& id) const { return ContainerDir(id) + "/exit.json"; }
  std::string LogFile(const std::string& id) const { return ContainerDir(id) + "/container.log"; }
  std::string PidFile(const std::string& id) const { return ContainerDir(id) + "/pid"; }
  std::string MonitorPidFile(const std::string& id) const {
    return ContainerDir(id) + "/monitor.pid";
  }
  // What CNI DEL needs (runtime/network/cni.h NetworkCache).
  std::string NetworkCacheFile(const std::string& id) const {
    return ContainerDir(id) + "/network.json";
  }
  // The container's hostname, hosts and resolv.conf files.
  std::string EtcDir(const std::string& id) const { return ContainerDir(id) + "/etc"; }

  // Makes the container's directory; kAlreadyExists if it is there.
  absl::Status CreateDir(const std::string& id) const;
  absl::Status Write(const ContainerRecord& record) const;
  // kNotFound: no directory or no record; kFailedPrecondition: a record of
  // another version; kDataLoss: unreadable record.
  absl::StatusOr<ContainerRecord> Read(const std::string& id) const;
  // The summary of the record Read would return, with the same errors;
  // parsed again only when the record's file has been replaced since.
  absl::StatusOr<RecordSummary> ReadSummary(const std::string& id) const;
  // nullopt while the container has not exited (or its monitor has not
  // written the file yet).
  std::optional<ExitRecord> ReadExit(const std::string& id) const;
  // Monitor pid the monitor wrote itself (for a record still in kCreating).
  pid_t ReadMonitorPid(const std::string& id) const;
  // Names of every entry in the root, valid ids or not.
  std::vector<std::string> ListEntries() const;

 private:
  // Identifies one version of a record file (each write renames a new file
  // into place).
  struct FileKey {
    dev_t dev = 0;
    ino_t ino = 0;
    absl::Time mtime = absl::InfinitePast();
    absl::Time ctime = absl::InfinitePast();
    off_t size = -1;
    bool operator==(const FileKey& o) const {
      return dev == o.dev && ino == o.ino && mtime == o.mtime && ctime == o.ctime && size == o.size;
    }
  };
  struct Cached {
    FileKey key;
    RecordSummary summary;
  };
  absl::StatusOr<ContainerRecord> Parse(const std::string& id, const std::string& path) const;

  std::string root_;
  // The summary of the last record read of each container, by its file's
  // version: ReadSummary is asked for every container at every relist, and
  // parsing is its cost. Write drops the entry it replaces (a freed inode
  // can come back with the next file); entries of containers no longer
  // listed are dropped by ListEntries.
  mutable absl::Mutex cache_mu_;
  mutable std::map<std::string, Cached> cache_ ABSL_GUARDED_BY(cache_mu_);
};

const char* RecordPhaseName(RecordPhase phase);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_STATE_STORE_H_
