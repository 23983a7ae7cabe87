// How berthctl prints what berthd answers, as kubectl prints it: ages,
// aligned tables, and objects as JSON or YAML.
//
// -o json / -o yaml shape: a Container is printed as the proto3 JSON form of
// berth.v1.Container (camelCase field names, timestamps in RFC 3339,
// 64-bit numbers as strings, every scalar field present even when empty or
// zero). Several of them are wrapped as kubectl wraps a list:
//   {"apiVersion": "berth.v1", "kind": "List", "items": [<Container>...],
//    "metadata": {"revision": "<ListResponse.revision>"}}
// (a revision to resume a Watch from). YAML is the same tree, with
// multi-line strings (specYaml) as literal blocks.
#ifndef BERTH_CONTROLLER_BERTHCTL_PRINTERS_H_
#define BERTH_CONTROLLER_BERTHCTL_PRINTERS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "berth/v1/berth.pb.h"
#include "nlohmann/json.hpp"

namespace berth::berthctl {

// kubectl's HumanDuration: "5s", "3m20s", "15m", "5h10m", "2d5h", "3y",
// "<invalid>" for a time more than a second ahead; "<unknown>" when unset.
std::string FormatAge(absl::Duration age);
// The age of `t` at `now`; "<unknown>" for an unset timestamp.
std::string AgeOf(const google::protobuf::Timestamp& t, absl::Time now);
absl::Time TimeOf(const google::protobuf::Timestamp& t);

// Rows of cells aligned as kubectl's tabwriter aligns them: every column
// but the last at least 10 wide and 3 wider than its widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // The header and the rows added so far (which are then forgotten; the
  // widths are kept, growing when later rows need more).
  void Print(std::ostream& out, bool header = true);

 private:
  void PrintRow(std::ostream& out, const std::vector<std::string>& row) const;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> widths_;
};

nlohmann::json ToJson(const google::protobuf::Message& message);
nlohmann::json ListJson(const std::vector<nlohmann::json>& items, uint64_t revision);
// YAML of a JSON tree, ending in a newline.
std::string ToYaml(const nlohmann::json& json);

}  // namespace berth::berthctl

#endif  // BERTH_CONTROLLER_BERTHCTL_PRINTERS_H_
