// Several sources of desired NodeContainers as one: a manifests directory
// and the Kubernetes API can feed one berthd.
//
// An id held by more than one source is taken from the first source in
// construction order that holds it; the conflict is logged (once per id and
// set of sources) and reported by Conflicts(). Objects returned by Get carry
// the name of their source in NodeContainer::origin, which the desired state
// records on the container (berth.dev/source), so that MayRemove asks the
// source the container came from. A container from a source that is no
// longer configured (berthd restarted without --kubeconfig, say) may be
// removed, as kubelet removes pods of a source it no longer has.
//
// Watch and Resync fan out: every source pushes into the one handler, and a
// resync re-reads each source.
#ifndef BERTH_CONTROLLER_SOURCES_MULTI_SOURCE_H_
#define BERTH_CONTROLLER_SOURCES_MULTI_SOURCE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/sources/source.h"

namespace berth::controller {

class MultiSource : public Source {
 public:
  // The sources must outlive this object and have distinct names.
  explicit MultiSource(std::vector<Source*> sources);

  std::string Name() const override;  // "manifests+api"
  std::vector<std::string> Ids() const override;
  std::optional<NodeContainer> Get(const std::string& id) const override;
  bool MayRemove(const runtime::ContainerStatus& container) const override;
  void Watch(Handler* handler) override;
  void Resync() override;

  // The source of this name, if configured.
  Source* Find(const std::string& name) const;
  // Ids held by more than one source -> the names of those sources.
  std::map<std::string, std::vector<std::string>> Conflicts() const;

 private:
  std::vector<Source*> sources_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, std::vector<std::string>> logged_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SOURCES_MULTI_SOURCE_H_
