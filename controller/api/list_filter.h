// ContainerFilter: the API's ListFilter (namespace, label selector, phase,
// source kind) made into a predicate over Containers, for List and Watch.
#ifndef BERTH_CONTROLLER_API_LIST_FILTER_H_
#define BERTH_CONTROLLER_API_LIST_FILTER_H_

#include "absl/status/statusor.h"
#include "berth/v1/berth.pb.h"
#include "controller/api/label_selector.h"

namespace berth::api {

class ContainerFilter {
 public:
  // INVALID_ARGUMENT for a selector that does not parse, or a source other
  // than "", "file" or "api".
  static absl::StatusOr<ContainerFilter> Make(const v1::ListFilter& filter);

  // Namespace and phase compare exactly; an empty field matches all.
  bool Matches(const v1::Container& c) const;

 private:
  v1::ListFilter filter_;
  LabelSelector selector_;
};

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_LIST_FILTER_H_
