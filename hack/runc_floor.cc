#include "hack/runc_floor.h"

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/oci/oci_config.h"
#include "runtime/oci/runc.h"
#include "runtime/sys/process.h"

namespace berth::bench {

namespace {

// A pidfd of container `id`'s process, found in runc's list.
absl::StatusOr<runtime::UniqueFd> OpenProcess(const runtime::oci::Runc& runc,
                                              const std::string& id) {
  absl::StatusOr<std::vector<runtime::oci::RuncState>> all = runc.List();
  if (!all.ok()) return all.status();
  int pid = 0;
  for (const runtime::oci::RuncState& c : *all) {
    if (c.id == id) pid = c.pid;
  }
  if (pid <= 0) return absl::NotFoundError(absl::StrCat("container ", id, ": no process"));
  return runtime::OpenPidFd(pid, runtime::ProcessStartTime(pid));
}

// `runc delete` of `id`, tried every `poll` for up to 5 s while runc has
// not seen the kill land yet.
absl::Status DeleteOnceExited(const runtime::oci::Runc& runc, const std::string& id,
                              absl::Duration poll) {
  absl::Status deleted;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!(deleted = runc.Delete(id, false)).ok() && absl::Now() < deadline) {
    absl::SleepFor(poll);
  }
  return deleted;
}

}  // namespace

absl::StatusOr<RuncFloor> RuncFloor::Prepare(const std::string& dir,
                                             const runtime::ContainerSpec& spec,
                                             const std::string& rootfs) {
  RuncFloor f;
  f.runc_ = runtime::oci::FindRunc();
  if (f.runc_.empty())
    return absl::FailedPreconditionError("prepare raw runc floor: no runc on PATH");
  f.dir_ = dir;
  f.root_ = dir + "/runc";
  f.bundle_ = dir + "/bundle";
  nlohmann::json config = runtime::oci::BuildOciConfig(spec, {rootfs, ""});
  config["linux"].erase("cgroupsPath");
  config["root"]["readonly"] = true;
  if (absl::Status s = runtime::MakeDirs(f.bundle_); !s.ok()) return s;
  if (absl::Status s = runtime::WriteFileAtomic(f.bundle_ + "/config.json", config.dump());
      !s.ok()) {
    return s;
  }
  return f;
}

absl::StatusOr<absl::Duration> RuncFloor::TimeShell(const std::string& script) const {
  const absl::Time begin = absl::Now();
  absl::Status s = runtime::RunCommandOk({"/bin/sh", "-c", script}, absl::Minutes(10));
  if (!s.ok()) return s;
  return absl::Now() - begin;
}

absl::StatusOr<absl::Duration> RuncFloor::RunAll(const std::string& prefix, int first,
                                                 int n) const {
  const std::string rc = absl::StrCat(runc_, " --root ", root_);
  return TimeShell(absl::StrCat("i=", first, "; while [ $i -lt ", first + n, " ]; do ", rc,
                                " run -d --bundle ", bundle_, " ", prefix,
                                "$i </dev/null >/dev/null 2>&1 || exit 1; i=$((i+1)); done"));
}

absl::StatusOr<absl::Duration> RuncFloor::KillDeleteAll(const std::string& prefix, int first,
                                                        int n) const {
  const std::string seq = absl::StrCat("i=", first, "; while [ $i -lt ", first + n, " ]; do ");
  const std::string rc = absl::StrCat(runc_, " --root ", root_);
  const std::string id = prefix + "$i";
  return TimeShell(absl::StrCat(seq, rc, " kill ", id, " KILL || exit 1; i=$((i+1)); done; ", seq,
                                rc, " delete ", id, " 2>/dev/null || { sleep 0.01; ", rc,
                                " delete ", id, " || exit 1; }; i=$((i+1)); done"));
}

absl::StatusOr<absl::Duration> RuncFloor::RunOne(const std::string& id,
                                                 const std::string& netns_path) const {
  std::string bundle = bundle_;
  if (!netns_path.empty()) {
    absl::StatusOr<std::string> text = runtime::ReadFile(bundle_ + "/config.json");
    if (!text.ok()) return text.status();
    nlohmann::json config = nlohmann::json::parse(*text);
    for (nlohmann::json& ns : config["linux"]["namespaces"]) {
      if (ns["type"] == "network") ns["path"] = netns_path;
    }
    bundle = absl::StrCat(dir_, "/bundle-", id);
    if (absl::Status s = runtime::MakeDirs(bundle); !s.ok()) return s;
    if (absl::Status s = runtime::WriteFileAtomic(bundle + "/config.json", config.dump());
        !s.ok()) {
      return s;
    }
  }
  // Standard streams on /dev/null: the detached container inherits them.
  const std::vector<std::string> argv = {runc_, "--root",   root_,  "run",
                                         "-d",  "--bundle", bundle, id};
  const absl::Time begin = absl::Now();
  absl::StatusOr<pid_t> pid = runtime::Spawn(argv, {});
  if (!pid.ok()) return pid.status();
  const absl::Time deadline = begin + absl::Seconds(30);
  int status = 0;
  while (waitpid(*pid, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      kill(*pid, SIGKILL);
      waitpid(*pid, &status, 0);
      return absl::DeadlineExceededError(
          absl::StrCat("run container ", id, ": runc run -d took over 30 s"));
    }
    absl::SleepFor(absl::Microseconds(200));
  }
  const absl::Duration took = absl::Now() - begin;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("run container ", id, ": ", absl::StrJoin(argv, " "),
                                            ": wait status ", status));
  }
  return took;
}

absl::Status RuncFloor::KillDelete(const std::string& id) const {
  runtime::oci::Runc runc(runc_, root_);
  if (absl::Status s = runc.Kill(id, SIGKILL, false); !s.ok()) return s;
  if (absl::Status s = DeleteOnceExited(runc, id, absl::Milliseconds(10)); !s.ok()) return s;
  return runtime::RemoveTree(absl::StrCat(dir_, "/bundle-", id));
}

absl::StatusOr<absl::Duration> RuncFloor::StopDelete(const std::string& id, int signal,
                                                     absl::Duration grace) const {
  runtime::oci::Runc runc(runc_, root_);
  // The process, looked up before the clock starts (as a caller that
  // created the container knows it).
  absl::StatusOr<runtime::UniqueFd> pidfd = OpenProcess(runc, id);
  if (!pidfd.ok()) return pidfd.status();
  const absl::Time begin = absl::Now();
  if (absl::Status s = runc.Kill(id, signal, false); !s.ok()) return s;
  if (!runtime::WaitPidFd(*pidfd, grace)) {
    if (absl::Status s = runc.Kill(id, SIGKILL, false); !s.ok()) return s;
    if (!runtime::WaitPidFd(*pidfd, absl::Seconds(10))) {
      return absl::DeadlineExceededError(absl::StrCat("stop container ", id, ": no exit"));
    }
  }
  if (absl::Status s = DeleteOnceExited(runc, id, absl::Milliseconds(1)); !s.ok()) return s;
  return absl::Now() - begin;
}

absl::StatusOr<absl::Duration> RuncFloor::CrashRestart(const std::string& id) const {
  runtime::oci::Runc runc(runc_, root_);
  absl::StatusOr<runtime::UniqueFd> pidfd = OpenProcess(runc, id);
  if (!pidfd.ok()) return pidfd.status();
  const absl::Time begin = absl::Now();
  if (absl::Status s = runtime::SignalPidFd(*pidfd, SIGKILL); !s.ok()) return s;
  if (!runtime::WaitPidFd(*pidfd, absl::Seconds(10))) {
    return absl::DeadlineExceededError(absl::StrCat("crash container ", id, ": no exit"));
  }
  if (absl::Status s = DeleteOnceExited(runc, id, absl::Milliseconds(1)); !s.ok()) return s;
  if (absl::Status s = RunOne(id).status(); !s.ok()) return s;
  return absl::Now() - begin;
}

absl::Status RuncFloor::Remove() const {
  runtime::oci::Runc runc(runc_, root_);
  absl::StatusOr<std::vector<runtime::oci::RuncState>> left = runc.List();
  if (left.ok() && !left->empty()) {
    return absl::FailedPreconditionError(absl::StrCat("remove raw runc floor ", dir_, ": ",
                                                      left->size(), " container(s) left, e.g. ",
                                                      (*left)[0].id));
  }
  return runtime::RemoveTree(dir_);
}

absl::Status RuncFloor::ForceRemove() const {
  runtime::oci::Runc runc(runc_, root_);
  if (absl::StatusOr<std::vector<runtime::oci::RuncState>> left = runc.List(); left.ok()) {
    for (const runtime::oci::RuncState& c : *left) runc.Delete(c.id, /*force=*/true).IgnoreError();
  }
  return Remove();
}

}  // namespace berth::bench
