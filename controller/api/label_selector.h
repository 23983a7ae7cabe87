// Label selectors as kubectl takes them (-l, --selector), for the API's
// ListFilter.label_selector: requirements separated by commas, all of which
// must hold.
//
//   key=value, key==value   the label is present with this value
//   key!=value              absent, or present with another value
//   key in (v1,v2)          present with one of the values
//   key notin (v1,v2)       absent, or present with none of the values
//   key                     present (any value)
//   !key                    absent
//
// Spaces around keys, operators, values and commas are ignored. Keys are
// label keys ([prefix/]name), values label values (possibly empty); a set
// needs at least one value. Errors are kInvalidArgument with the
// apiserver's wording: `unable to parse requirement: <why>`. The empty
// selector matches everything.
#ifndef BERTH_CONTROLLER_API_LABEL_SELECTOR_H_
#define BERTH_CONTROLLER_API_LABEL_SELECTOR_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::api {

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kExists;
  std::set<std::string> values;  // one for kEquals/kNotEquals; none for kExists/kDoesNotExist

  bool Matches(const std::map<std::string, std::string>& labels) const;
};

class LabelSelector {
 public:
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);

  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;
};

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_LABEL_SELECTOR_H_
