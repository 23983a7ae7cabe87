// The httpGet handler: one HTTP/1.1 GET over a socket DialContainer opened
// (so a container in its own network namespace is reached from inside it),
// plain or TLS (OpenSSL, the certificate not verified, as kubelet).
//
// As kubelet's prober: a status 200..399 is success (its body, at most
// kMaxActionOutputBytes, is the output), anything else "HTTP probe failed
// with statuscode: N". Headers: Host (the dialled host:port), User-Agent,
// Accept: */* and Connection: close, each replaced by an httpHeaders entry
// of the same name; further entries are added. Redirects: followed up to 10
// while they stay on the same host name (a relative Location, or an
// absolute one naming the same host; scheme and port may change), as
// kubelet's client does; a redirect to another host is not followed and
// counts as the 3xx it is (success, output "Probe terminated redirects").
// Everything (dial, TLS handshake, request, response) ends at `deadline`.
#ifndef BERTH_CONTROLLER_PROBE_HTTP_PROBE_H_
#define BERTH_CONTROLLER_PROBE_HTTP_PROBE_H_

#include <string>

#include "absl/time/time.h"
#include "controller/probe/action_runner.h"
#include "runtime/runtime.h"

namespace berth::controller {

ActionResult RunHttpGet(runtime::Runtime& runtime, const HttpGetAction& action,
                        const ActionTarget& target, absl::Time deadline,
                        const std::string& user_agent);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PROBE_HTTP_PROBE_H_
