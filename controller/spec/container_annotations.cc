#include "controller/spec/container_annotations.h"

#include "absl/strings/numbers.h"
#include "controller/spec/handler_json.h"

namespace berth::controller {
namespace {

using Annotations = std::map<std::string, std::string>;

std::optional<std::string> Find(const Annotations& annotations, const char* key) {
  auto it = annotations.find(key);
  if (it == annotations.end()) return std::nullopt;
  return it->second;
}

std::string String(const Annotations& annotations, const char* key) {
  return Find(annotations, key).value_or("");
}

std::optional<int64_t> Int(const Annotations& annotations, const char* key) {
  std::optional<std::string> s = Find(annotations, key);
  int64_t v;
  if (!s.has_value() || !absl::SimpleAtoi(*s, &v)) return std::nullopt;
  return v;
}

}  // namespace

std::map<std::string, std::string> ContainerAnnotations::Encode() const {
  Annotations out;
  EncodeInto(&out);
  return out;
}

void ContainerAnnotations::EncodeInto(Annotations* out) const {
  Annotations& a = *out;
  if (!spec_hash.empty()) a[kSpecHashAnnotation] = spec_hash;
  a[kNamespaceAnnotation] = namespace_;
  a[kNameAnnotation] = name;
  a[kGracePeriodAnnotation] = std::to_string(absl::ToInt64Seconds(grace_period));
  a[kGenerationAnnotation] = std::to_string(generation);
  a[kSourceFileAnnotation] = source_file;
  if (!source.empty()) a[kSourceAnnotation] = source;
  a[kImageAnnotation] = image;
  if (!image_id.empty()) a[kImageIdAnnotation] = image_id;
  if (restart_count.has_value()) a[kRestartCountAnnotation] = std::to_string(*restart_count);
  if (last_exit_code.has_value()) a[kLastExitCodeAnnotation] = std::to_string(*last_exit_code);
  if (!last_exit_reason.empty()) a[kLastExitReasonAnnotation] = last_exit_reason;
  if (pre_stop.has_value()) a[kPreStopAnnotation] = HandlerToJson(*pre_stop);
}

ContainerAnnotations ContainerAnnotations::Decode(const Annotations& a) {
  ContainerAnnotations c;
  c.spec_hash = String(a, kSpecHashAnnotation);
  c.namespace_ = String(a, kNamespaceAnnotation);
  c.name = String(a, kNameAnnotation);
  c.grace_period = absl::Seconds(Int(a, kGracePeriodAnnotation).value_or(30));
  c.generation = Int(a, kGenerationAnnotation).value_or(0);
  c.source_file = String(a, kSourceFileAnnotation);
  c.source = String(a, kSourceAnnotation);
  c.image = String(a, kImageAnnotation);
  c.image_id = String(a, kImageIdAnnotation);
  if (std::optional<int64_t> n = Int(a, kRestartCountAnnotation)) {
    c.restart_count = static_cast<int>(*n);
  }
  if (a.count(kLastExitCodeAnnotation) != 0) {
    c.last_exit_code = static_cast<int>(Int(a, kLastExitCodeAnnotation).value_or(0));
  }
  c.last_exit_reason = String(a, kLastExitReasonAnnotation);
  if (std::optional<std::string> json = Find(a, kPreStopAnnotation)) {
    c.pre_stop = HandlerFromJson(*json);
  }
  return c;
}

}  // namespace berth::controller
