// The networking fields of a NodeContainer spec (ports, hostname, dnsPolicy,
// dnsConfig, hostAliases): decoding and validation, as the Kubernetes API
// server validates a Pod's (pkg/apis/core/validation), kept in step with the
// CRD in crds/. Called by the NodeContainer parser (spec_parser.cc) on the
// same document; its errors join the parser's.
//
// Rules (a Pod's, except where noted):
//   ports[]: containerPort 1-65535 (required), hostPort 0-65535 (0: not
//     published), protocol TCP or UDP (default TCP; SCTP is refused: the
//     CNI portmap plugin and Berth's checks handle TCP and UDP only), name
//     an IANA_SVC_NAME (at most 15 of [a-z0-9-], at least one letter, no
//     leading, trailing or double '-'), unique; hostIP an IPv4 or IPv6
//     address. Refused: two ports with the same containerPort and protocol,
//     and two with the same hostPort and protocol on overlapping hostIPs
//     (equal, or either one empty: every address).
//   hostname: a DNS-1123 label.
//   dnsPolicy: Default (the node's /etc/resolv.conf) or None (dnsConfig
//     alone, which must then give at least one nameserver). ClusterFirst and
//     ClusterFirstWithHostNet are refused: a node has no cluster DNS.
//   dnsConfig: at most 3 nameservers (IP addresses), at most 32 searches
//     (DNS subdomains, a trailing '.' allowed; 2048 characters in all),
//     options {name (required), value}. Only with dnsPolicy None: Berth does
//     not merge it into the node's resolv.conf (kubelet does; refused here
//     rather than ignored).
//   hostAliases[]: ip an IP address (unique), hostnames at least one DNS
//     subdomain each.
//   With hostNetwork: true the container shares the node's network, name
//     and files: ports are informational (nothing is published), and a
//     hostPort, when set, must equal containerPort (as the API server
//     requires); hostname, dnsPolicy None, dnsConfig and hostAliases are
//     refused, as they would have no effect.
#ifndef BERTH_CONTROLLER_SPEC_SPEC_NETWORK_H_
#define BERTH_CONTROLLER_SPEC_SPEC_NETWORK_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "controller/spec/field_reader.h"
#include "controller/spec/node_container.h"
#include "controller/spec/spec_parser.h"
#include "controller/spec/yaml_reader.h"

namespace berth::controller {

class NetworkDecoder : public FieldReader {
 public:
  using FieldReader::FieldReader;

  // Reads the networking fields of the spec mapping `spec_fields` (read by
  // the caller's FieldReader on the same document) into `spec`, whose
  // host_network must already be read. Errors go to errors().
  void Decode(const Fields& spec_fields, NodeContainerSpec* spec);

 private:
  void DecodePorts(const Fields& s, bool host_network, std::vector<ContainerPort>* ports);
  void DecodeDns(const Fields& s, NodeContainerSpec* spec);
  void DecodeHostAliases(const Fields& s, std::vector<HostAlias>* aliases);
  // A string field that must be an IP address; false if absent or invalid.
  bool Ip(const Fields& f, absl::string_view key, std::string* out);
  // A sequence at `key`, or nullptr (absent, or reported as not a sequence).
  const YamlNode* Sequence(const Fields& f, absl::string_view key);
};

// Runs a NetworkDecoder over `spec_fields` of `doc` and appends its errors
// to `errors`: the one call the NodeContainer parser makes.
void DecodeNetworkFields(const YamlDocument& doc, absl::string_view file, const Fields& spec_fields,
                         NodeContainerSpec* spec, std::vector<ParseError>* errors);

// Whether `s` is an IANA_SVC_NAME (a port name).
bool IsPortName(absl::string_view s);
// Whether `s` is an IPv4 or IPv6 address in its usual text form.
bool IsIpAddress(absl::string_view s);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_SPEC_NETWORK_H_
