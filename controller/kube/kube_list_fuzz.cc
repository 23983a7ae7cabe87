// Fuzzes the decoding of list answers (DecodeListPage), JSON an informer
// LISTs from the API server. Properties: every item kept has a key, which
// is ObjectKey of that item; items without a name are the only ones
// dropped; resourceVersion and continue are the answer's metadata strings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "controller/kube/list_watch.h"
#include "nlohmann/json.hpp"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "kube_list_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json body = nlohmann::json::parse(data, data + size, nullptr, false);
  absl::StatusOr<berth::kube::ListPage> page = berth::kube::DecodeListPage(body);
  if (!page.ok()) {
    Check(absl::IsInvalidArgument(page.status()), "a bad list is kInvalidArgument");
    return 0;
  }
  size_t named = 0;
  if (body["items"].is_array()) {
    for (const nlohmann::json& item : body["items"]) {
      if (!berth::kube::ObjectKey(item).empty()) ++named;
    }
  }
  Check(page->items.size() == named, "every named item is kept, only those");
  for (const auto& [key, item] : page->items) {
    Check(!key.empty() && key == berth::kube::ObjectKey(item), "keys are the items' keys");
  }
  const nlohmann::json& meta = body.contains("metadata") ? body["metadata"] : body;
  if (meta.is_object() && meta.contains("resourceVersion") && meta["resourceVersion"].is_string()) {
    Check(page->resource_version == meta["resourceVersion"].get<std::string>(),
          "resourceVersion is the answer's");
  }
  return 0;
}
