#include "controller/api/list_filter.h"

#include <map>
#include <string>

namespace berth::api {

absl::StatusOr<ContainerFilter> ContainerFilter::Make(const v1::ListFilter& filter) {
  ContainerFilter f;
  f.filter_ = filter;
  absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(filter.label_selector());
  if (!selector.ok()) return selector.status();
  f.selector_ = *std::move(selector);
  if (!filter.source().empty() && filter.source() != "file" && filter.source() != "api") {
    return absl::InvalidArgumentError("filter.source: must be \"file\" or \"api\", not \"" +
                                      filter.source() + "\"");
  }
  return f;
}

bool ContainerFilter::Matches(const v1::Container& c) const {
  if (!filter_.namespace_().empty() && c.namespace_() != filter_.namespace_()) return false;
  if (!filter_.phase().empty() && c.status().phase() != filter_.phase()) return false;
  if (!filter_.source().empty() && c.source().kind() != filter_.source()) return false;
  if (selector_.empty()) return true;
  const std::map<std::string, std::string> labels(c.labels().begin(), c.labels().end());
  return selector_.Matches(labels);
}

}  // namespace berth::api
