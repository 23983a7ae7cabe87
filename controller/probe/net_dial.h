// Opens a TCP connection to a port of a container, from where the container
// can be reached without opening anything on the node (issue 15):
//
//  * a container with an address on its network (ActionTarget::ip) is
//    dialled at that address (or at the handler's host) from the node;
//  * a container that shares the node's network namespace (host network)
//    is dialled at 127.0.0.1 (or the handler's host) from the node;
//  * a container in a network namespace of its own that has no address
//    (loopback only, no CNI) is dialled from inside that namespace: a
//    short-lived thread enters /proc/<pid>/ns/net (setns), creates the
//    socket there and returns it; the connect then runs on the caller's
//    thread (a socket stays in the namespace it was created in). The
//    handler's host, when set, is then an address inside that namespace.
//
// Which case applies is read from the runtime (the container's pid) and
// /proc (its network namespace against berthd's own) at every dial, so a
// restarted container is found in its new namespace. Host names are
// resolved with getaddrinfo on the node; numeric addresses are used as
// they are. Thread-safe.
#ifndef BERTH_CONTROLLER_PROBE_NET_DIAL_H_
#define BERTH_CONTROLLER_PROBE_NET_DIAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/probe/action_runner.h"
#include "runtime/runtime.h"
#include "runtime/sys/unique_fd.h"

namespace berth::controller {

// Resolves `port` against the target's spec.ports: a number as it is, a
// name by the entry of that name. kInvalidArgument when unknown or out of
// range.
absl::StatusOr<int> ResolvePort(const PortRef& port, const ActionTarget& target);

// A connected, non-blocking TCP socket to `host` (empty: the container's
// address as above) and `port`, or kDeadlineExceeded at `deadline`,
// kUnavailable when refused or unreachable, kNotFound when the container
// does not run. `*peer` (optional) receives "host:port" as dialled, for
// messages and the HTTP Host header.
absl::StatusOr<runtime::UniqueFd> DialContainer(runtime::Runtime& runtime,
                                                const ActionTarget& target, const std::string& host,
                                                int port, absl::Time deadline, std::string* peer);

// Waits until `fd` is readable (`write` false) or writable, or `deadline`:
// false at the deadline or on error.
bool WaitFd(int fd, bool write, absl::Time deadline);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PROBE_NET_DIAL_H_
