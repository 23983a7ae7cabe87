// Everything Berth writes on its runtime containers, encoded and decoded in
// one place (kubelet's labels.go). The keys and value formats are a contract
// with containers made by earlier releases: they must never change.
#ifndef BERTH_CONTROLLER_SPEC_CONTAINER_ANNOTATIONS_H_
#define BERTH_CONTROLLER_SPEC_CONTAINER_ANNOTATIONS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

// The keys.
inline constexpr char kSpecHashAnnotation[] = "berth.dev/spec-hash";
inline constexpr char kNamespaceAnnotation[] = "berth.dev/namespace";
inline constexpr char kNameAnnotation[] = "berth.dev/name";
inline constexpr char kGracePeriodAnnotation[] = "berth.dev/termination-grace-period-seconds";
inline constexpr char kGenerationAnnotation[] = "berth.dev/generation";
inline constexpr char kRestartCountAnnotation[] = "berth.dev/restart-count";
inline constexpr char kLastExitCodeAnnotation[] = "berth.dev/last-exit-code";
inline constexpr char kLastExitReasonAnnotation[] = "berth.dev/last-exit-reason";
// The manifest file the container's spec came from (standalone mode).
inline constexpr char kSourceFileAnnotation[] = "berth.dev/source-file";
// The Source that holds the object (NodeContainer::origin); absent on
// containers made before sources had names: "manifests".
inline constexpr char kSourceAnnotation[] = "berth.dev/source";
// The image reference as written in the spec and what it resolved to.
inline constexpr char kImageAnnotation[] = "berth.dev/image";
inline constexpr char kImageIdAnnotation[] = "berth.dev/image-id";
// The spec's lifecycle.preStop when the container was created, as
// HandlerToJson writes it (controller/spec/handler_json.h), ports given by
// name replaced by their numbers: what runs first at every stop of this
// container, even once no source holds its object. Absent: no preStop.
inline constexpr char kPreStopAnnotation[] = "berth.dev/pre-stop";

// The annotations as typed fields. Decode never fails: an absent or
// malformed value reads as the field's default (as noted per field).
// Encode writes the always-present fields (namespace, name, grace period,
// generation, source file, image) whatever their value, and the others only
// when set (non-empty string, engaged optional).
struct ContainerAnnotations {
  std::string spec_hash;  // DesiredSpecHash of the object; "" when absent
  std::string namespace_;
  std::string name;
  absl::Duration grace_period = absl::Seconds(30);  // whole seconds
  int64_t generation = 0;
  std::string source_file;  // standalone mode: the manifest file
  std::string source;       // NodeContainer::origin
  std::string image;        // as written in the spec
  std::string image_id;     // what it resolved to
  // Written when the container is created: absent on a spec not yet
  // created (or malformed): RestartCount() is then 0.
  std::optional<int> restart_count;
  // Of the container before the last restart. Present but malformed: 0.
  std::optional<int> last_exit_code;
  std::string last_exit_reason;
  // lifecycle.preStop as created; absent or malformed: none.
  std::optional<Handler> pre_stop;

  int RestartCount() const { return restart_count.value_or(0); }

  std::map<std::string, std::string> Encode() const;
  // Writes Encode()'s entries into `annotations`, keeping the others.
  void EncodeInto(std::map<std::string, std::string>* annotations) const;
  static ContainerAnnotations Decode(const std::map<std::string, std::string>& annotations);
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_CONTAINER_ANNOTATIONS_H_
