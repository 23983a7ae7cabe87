#include "controller/kube/list_watch.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace berth::kube {
namespace {

using nlohmann::json;

// The string at object[key], or "" (also when it is not a string); false
// when it is present but not a string.
bool StringField(const json& object, const char* key, std::string* out) {
  out->clear();
  if (!object.is_object()) return true;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

const json* Metadata(const json& object) {
  if (!object.is_object()) return nullptr;
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

std::string ObjectKey(const json& object) {
  const json* meta = Metadata(object);
  std::string name, ns;
  if (meta == nullptr || !StringField(*meta, "name", &name) || name.empty()) return "";
  if (StringField(*meta, "namespace", &ns) && !ns.empty()) return absl::StrCat(ns, "/", name);
  return name;
}

std::string ResourceVersionOf(const json& object) {
  const json* meta = Metadata(object);
  std::string rv;
  if (meta == nullptr || !StringField(*meta, "resourceVersion", &rv)) return "";
  return rv;
}

bool DeliverLines(std::string* pending, const std::function<bool(absl::string_view)>& on_line) {
  size_t start = 0;
  for (size_t nl; (nl = pending->find('\n', start)) != std::string::npos; start = nl + 1) {
    absl::string_view line(pending->data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!on_line(line)) {
      pending->erase(0, nl + 1);
      return false;
    }
  }
  pending->erase(0, start);
  return true;
}

absl::StatusOr<WatchEvent> DecodeWatchEvent(absl::string_view line) {
  json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object()) return absl::InvalidArgumentError("watch event is not a JSON object");
  auto type = event.find("type");
  auto object = event.find("object");
  if (type == event.end() || !type->is_string() || object == event.end() || !object->is_object()) {
    return absl::InvalidArgumentError("watch event lacks a string type or an object");
  }
  WatchEvent out;
  out.type = type->get<std::string>();
  out.object = std::move(*object);
  out.key = ObjectKey(out.object);
  out.resource_version = ResourceVersionOf(out.object);
  if (out.type == "ERROR") {
    auto code = out.object.find("code");
    if (code != out.object.end() && code->is_number_unsigned()) {
      const uint64_t c = code->get<uint64_t>();
      if (c <= static_cast<uint64_t>(std::numeric_limits<int>::max()))
        out.code = static_cast<int>(c);
    } else if (code != out.object.end() && code->is_number_integer()) {
      const int64_t c = code->get<int64_t>();
      if (c >= std::numeric_limits<int>::min() && c <= std::numeric_limits<int>::max()) {
        out.code = static_cast<int>(c);
      }
    }
    StringField(out.object, "message", &out.message);
  }
  return out;
}

absl::StatusOr<ListPage> DecodeListPage(const json& body) {
  auto items = body.is_object() ? body.find("items") : body.end();
  if (items == body.end() || !(items->is_array() || items->is_null())) {
    return absl::InvalidArgumentError("answer is not a list");
  }
  ListPage page;
  if (items->is_array()) {
    for (const json& item : *items) {
      std::string key = ObjectKey(item);
      if (!key.empty()) page.items.emplace_back(std::move(key), item);
    }
  }
  if (const json* meta = Metadata(body); meta != nullptr) {
    if (!StringField(*meta, "resourceVersion", &page.resource_version) ||
        !StringField(*meta, "continue", &page.continue_token)) {
      return absl::InvalidArgumentError(
          "answer is not a list: metadata.resourceVersion or continue is not a string");
    }
  }
  return page;
}

}  // namespace berth::kube
