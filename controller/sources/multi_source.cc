#include "controller/sources/multi_source.h"

#include "absl/strings/str_join.h"
#include "controller/spec/container_annotations.h"
#include "spdlog/spdlog.h"

namespace berth::controller {

MultiSource::MultiSource(std::vector<Source*> sources) : sources_(std::move(sources)) {}

std::string MultiSource::Name() const {
  std::vector<std::string> names;
  for (const Source* s : sources_) names.push_back(s->Name());
  return absl::StrJoin(names, "+");
}

std::vector<std::string> MultiSource::Ids() const {
  std::set<std::string> ids;
  for (const Source* s : sources_) {
    for (std::string& id : s->Ids()) ids.insert(std::move(id));
  }
  return {ids.begin(), ids.end()};
}

std::optional<NodeContainer> MultiSource::Get(const std::string& id) const {
  std::optional<NodeContainer> first;
  std::vector<std::string> holders;
  for (const Source* s : sources_) {
    std::optional<NodeContainer> o = s->Get(id);
    if (!o.has_value()) continue;
    holders.push_back(s->Name());
    if (!first.has_value()) {
      first = std::move(o);
      first->origin = s->Name();
    }
  }
  absl::MutexLock l(&mu_);
  if (holders.size() > 1) {
    auto [it, added] = logged_.try_emplace(id, holders);
    if (added || it->second != holders) {
      it->second = holders;
      spdlog::error("NodeContainer {} is defined by {}; using the one from {}", id,
                    absl::StrJoin(holders, " and "), holders[0]);
    }
  } else {
    logged_.erase(id);
  }
  return first;
}

bool MultiSource::MayRemove(const runtime::ContainerStatus& container) const {
  // Containers made before sources had names came from the manifests.
  const std::string source = ContainerAnnotations::Decode(container.annotations).source;
  const std::string name = source.empty() ? "manifests" : source;
  const Source* s = Find(name);
  return s == nullptr || s->MayRemove(container);
}

void MultiSource::Watch(Handler* handler) {
  for (Source* s : sources_) s->Watch(handler);
}

void MultiSource::Resync() {
  for (Source* s : sources_) s->Resync();
}

Source* MultiSource::Find(const std::string& name) const {
  for (Source* s : sources_) {
    if (s->Name() == name) return s;
  }
  return nullptr;
}

std::map<std::string, std::vector<std::string>> MultiSource::Conflicts() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& id : Ids()) {
    std::vector<std::string> holders;
    for (const Source* s : sources_) {
      if (s->Get(id).has_value()) holders.push_back(s->Name());
    }
    if (holders.size() > 1) out[id] = holders;
  }
  return out;
}

}  // namespace berth::controller
