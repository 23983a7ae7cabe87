// ChannelSource: ids pushed by something that holds no desired objects —
// the runtime's exit events, the status files left by an earlier run — fed
// to the controller through the same Watch path as the real sources (like
// controller-runtime's source.Channel).
#ifndef BERTH_CONTROLLER_SOURCES_CHANNEL_SOURCE_H_
#define BERTH_CONTROLLER_SOURCES_CHANNEL_SOURCE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/sources/source.h"

namespace berth::controller {

class ChannelSource : public Source {
 public:
  explicit ChannelSource(std::string name) : name_(std::move(name)) {}

  // Hands `id` to the handler; ids pushed before Watch are kept and handed
  // over by Watch. Thread-safe.
  void Push(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_) {
    Handler* handler = nullptr;
    {
      absl::MutexLock l(&mu_);
      if (handler_ == nullptr) {
        pending_.push_back(id);
        return;
      }
      handler = handler_;
    }
    handler->OnChange(id);
  }

  // Source: holds nothing, so it wants nothing and claims nothing.
  std::string Name() const override { return name_; }
  std::vector<std::string> Ids() const override { return {}; }
  std::optional<NodeContainer> Get(const std::string&) const override { return std::nullopt; }
  bool MayRemove(const runtime::ContainerStatus&) const override { return true; }
  void Watch(Handler* handler) override ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::string> pending;
    {
      absl::MutexLock l(&mu_);
      handler_ = handler;
      pending.swap(pending_);
    }
    for (const std::string& id : pending) handler->OnChange(id);
  }

 private:
  const std::string name_;
  absl::Mutex mu_;
  Handler* handler_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<std::string> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SOURCES_CHANNEL_SOURCE_H_
