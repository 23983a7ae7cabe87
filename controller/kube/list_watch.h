// Decoding of what the API server sends an informer: list answers and watch
// streams (newline-delimited JSON events). Untrusted bytes: any answer
// decodes to a value or an error, never an exception or undefined behaviour
// (a field of the wrong type is an error or ignored, as each function says).
#ifndef BERTH_CONTROLLER_KUBE_LIST_WATCH_H_
#define BERTH_CONTROLLER_KUBE_LIST_WATCH_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace berth::kube {

// "<namespace>/<name>" for namespaced objects, "<name>" for cluster-scoped
// ones; "" when the object has no metadata.name (or it is not a string).
std::string ObjectKey(const nlohmann::json& object);

// metadata.resourceVersion; "" when missing or not a string.
std::string ResourceVersionOf(const nlohmann::json& object);

// Hands every complete line of `*pending` (without its "\n" or "\r\n";
// empty lines skipped) to `on_line` and erases what it handed; the
// unterminated rest stays for the next bytes. False as soon as `on_line`
// returns false (what follows that line is then left in `*pending`).
bool DeliverLines(std::string* pending, const std::function<bool(absl::string_view)>& on_line);

// One watch event: {"type": "<TYPE>", "object": {...}}.
struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR or unknown
  nlohmann::json object;
  std::string key;               // ObjectKey(object)
  std::string resource_version;  // ResourceVersionOf(object)
  // ERROR events (a Status object): its integer code (0 when missing, not
  // an integer or out of int range) and message ("" unless a string).
  int code = 0;
  std::string message;
};

// kInvalidArgument when `line` is not JSON, or not an object with a string
// "type" and an object "object".
absl::StatusOr<WatchEvent> DecodeWatchEvent(absl::string_view line);

// One page of a list answer.
struct ListPage {
  // The items with a name, keyed by ObjectKey, in the answer's order.
  std::vector<std::pair<std::string, nlohmann::json>> items;
  std::string resource_version;  // metadata.resourceVersion, "" if none
  std::string continue_token;    // metadata.continue, "" on the last page
};

// kInvalidArgument unless `body` is an object whose "items" is an array or
// null and whose metadata.resourceVersion and metadata.continue are strings
// when present.
absl::StatusOr<ListPage> DecodeListPage(const nlohmann::json& body);

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_LIST_WATCH_H_
