// The health fields of a NodeContainer spec: livenessProbe, readinessProbe,
// startupProbe and lifecycle (postStart, preStop), decoded and checked as the
// Kubernetes API server checks a Pod container's (validateProbe,
// validateLifecycle and their handlers), with the same field names, defaults
// and bounds, and errors as the rest of the parser reports them
// (file:line:column: field: reason).
//
// Kubernetes' rules, kept:
//   - a probe or hook has exactly one handler: probes exec, httpGet,
//     tcpSocket or grpc; hooks exec, httpGet or sleep;
//   - exec.command is not empty; httpGet.path defaults to "/", scheme is
//     HTTP (default) or HTTPS, each httpHeaders[].name is an HTTP header
//     name ([-A-Za-z0-9]+); a port is a number 1-65535 or an IANA service
//     name (1-15 of [a-z0-9-], a letter among them, no "-" at either end or
//     twice in a row); grpc.port is a number 1-65535;
//   - initialDelaySeconds >= 0; periodSeconds (10), timeoutSeconds (1),
//     successThreshold (1) and failureThreshold (3) >= 1, where 0 takes the
//     default as the API server's defaulting does; successThreshold is 1 on
//     liveness and startup probes; terminationGracePeriodSeconds >= 1 on
//     liveness and startup probes and refused on readiness probes;
//   - sleep.seconds is 1 to the spec's terminationGracePeriodSeconds.
// Berth's own, stricter:
//   - tcpSocket in a hook is refused: Kubernetes keeps it for compatibility
//     and never runs it;
//   - a port given by name must name an entry of spec.ports (Kubernetes
//     finds out when the probe first runs).
// Counts are int32 in Kubernetes: at most 2147483647.
#ifndef BERTH_CONTROLLER_SPEC_SPEC_PROBES_H_
#define BERTH_CONTROLLER_SPEC_SPEC_PROBES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controller/spec/field_reader.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

// The spec keys ProbeDecoder reads.
inline constexpr absl::string_view kProbeSpecKeys[] = {"livenessProbe", "readinessProbe",
                                                       "startupProbe", "lifecycle"};

// Kubernetes' IsValidPortName (IANA_SVC_NAME): OK, or kInvalidArgument
// saying what is wrong.
absl::Status ValidatePortName(absl::string_view name);
// Kubernetes' IsHTTPHeaderName: 1 or more of [-A-Za-z0-9].
bool IsHttpHeaderName(absl::string_view name);

class ProbeDecoder : public FieldReader {
 public:
  using FieldReader::FieldReader;

  // Decodes the health fields of the spec mapping `spec` into `out`. Call
  // it after the rest of the spec is in `out`: named ports are looked up in
  // out->ports and sleep durations bounded by its grace period. Errors go to
  // errors(); a field with an error is left unset.
  void Decode(const Fields& spec, NodeContainerSpec* out);

 private:
  enum class ProbeKind { kLiveness, kReadiness, kStartup };
  // A port to look up in spec.ports once the spec is read.
  struct NamedPort {
    const YamlNode* node;
    std::string path;
    std::string name;
  };

  std::optional<Probe> DecodeProbe(const Fields& spec, absl::string_view key, ProbeKind kind);
  std::optional<Handler> DecodeHook(const Fields& lifecycle, absl::string_view key,
                                    int64_t grace_period_seconds);
  // The handler fields of `f`, those in `accepted`; false on an error.
  bool DecodeHandler(const Fields& f, std::initializer_list<absl::string_view> accepted,
                     Handler* out);
  bool DecodeHttpGet(const Fields& f, HttpGetAction* out);
  bool DecodePort(const Fields& f, absl::string_view key, PortRef* out);
  // A count of seconds or tries: `min` to int32's maximum, 0 (when
  // `zero_is_default`) and absent keep *out.
  bool Count(const Fields& f, absl::string_view key, int64_t min, bool zero_is_default,
             int64_t* out);

  std::vector<NamedPort> named_ports_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_SPEC_PROBES_H_
