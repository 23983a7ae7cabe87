#include "controller/spec/spec_network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/names.h"

namespace berth::controller {
namespace {

constexpr size_t kMaxNameservers = 3;
constexpr size_t kMaxSearches = 32;
constexpr size_t kMaxSearchChars = 2048;

const char* ProtocolName(Protocol p) { return p == Protocol::kUdp ? "UDP" : "TCP"; }

}  // namespace

bool IsPortName(absl::string_view s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-') return false;
  if (absl::StrContains(s, "--")) return false;
  bool letter = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      letter = true;
    } else if (!absl::ascii_isdigit(c) && c != '-') {
      return false;
    }
  }
  return letter;
}

bool IsIpAddress(absl::string_view s) {
  const std::string text(s);
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

void DecodeNetworkFields(const YamlDocument& doc, absl::string_view file, const Fields& spec_fields,
                         NodeContainerSpec* spec, std::vector<ParseError>* errors) {
  NetworkDecoder decoder(doc, file);
  decoder.Decode(spec_fields, spec);
  for (ParseError& e : decoder.errors()) errors->push_back(std::move(e));
}

void NetworkDecoder::Decode(const Fields& s, NodeContainerSpec* spec) {
  if (!s.map) return;
  DecodePorts(s, spec->host_network, &spec->ports);
  if (const YamlNode* n = String(s, "hostname", &spec->hostname)) {
    if (spec->host_network) {
      Error(*n, s.Path("hostname"),
            "has no effect with hostNetwork: true (the container keeps the node's name)");
    } else {
      Check(s, "hostname", runtime::ValidateDnsLabel("hostname", spec->hostname));
    }
  }
  DecodeDns(s, spec);
  DecodeHostAliases(s, &spec->host_aliases);
  if (spec->host_network && s.Get("hostAliases")) {
    Error(*s.Get("hostAliases"), s.Path("hostAliases"),
          "has no effect with hostNetwork: true (the container sees the node's /etc/hosts)");
  }
}

const YamlNode* NetworkDecoder::Sequence(const Fields& f, absl::string_view key) {
  const YamlNode* n = f.Get(key);
  if (n && n->kind != YamlKind::kSequence) {
    Error(*n, f.Path(key), absl::StrCat("expected a sequence, got ", Describe(*n)));
    return nullptr;
  }
  return n;
}

bool NetworkDecoder::Ip(const Fields& f, absl::string_view key, std::string* out) {
  const YamlNode* n = String(f, key, out);
  if (n && !IsIpAddress(*out)) {
    Error(*n, f.Path(key), absl::StrCat("must be a valid IP address, got ", QuoteForError(*out)));
    return false;
  }
  return n != nullptr;
}

void NetworkDecoder::DecodePorts(const Fields& s, bool host_network,
                                 std::vector<ContainerPort>* ports) {
  const YamlNode* list = Sequence(s, "ports");
  if (!list) return;
  std::map<std::string, size_t> names;
  std::map<std::pair<int32_t, Protocol>, size_t> container_ports;
  for (size_t i = 0; i < list->children.size(); ++i) {
    Fields p = ReadFields(At(list->children[i]), ItemPath(s.Path("ports"), i),
                          {"name", "containerPort", "hostPort", "hostIP", "protocol"});
    if (!p.map) continue;
    ContainerPort port;
    if (const YamlNode* n = String(p, "name", &port.name)) {
      if (!IsPortName(port.name)) {
        Error(*n, p.Path("name"),
              absl::StrCat("invalid port name ", QuoteForError(port.name),
                           " (an IANA_SVC_NAME: at most 15 of a-z, 0-9 and '-', at least one "
                           "letter, no '-' at either end or next to another)"));
      } else if (auto [it, fresh] = names.emplace(port.name, i); !fresh) {
        Error(*n, p.Path("name"),
              absl::StrCat("duplicate port name ", QuoteForError(port.name), " (also spec.ports[",
                           it->second, "])"));
      }
    }
    int64_t number = 0;
    if (Require(p, "containerPort")) {
      Int(p, "containerPort", 1, 65535, &number);
      port.container_port = static_cast<int32_t>(number);
    }
    number = 0;
    Int(p, "hostPort", 0, 65535, &number);
    port.host_port = static_cast<int32_t>(number);
    Ip(p, "hostIP", &port.host_ip);
    std::string protocol;
    if (const YamlNode* n = String(p, "protocol", &protocol)) {
      if (protocol == "UDP") {
        port.protocol = Protocol::kUdp;
      } else if (protocol == "SCTP") {
        Error(*n, p.Path("protocol"),
              "SCTP is not supported (Berth publishes ports with the CNI portmap plugin, "
              "which handles TCP and UDP; accepted: TCP, UDP)");
      } else if (protocol != "TCP") {
        Error(*n, p.Path("protocol"),
              absl::StrCat("unknown protocol ", QuoteForError(protocol), " (accepted: TCP, UDP)"));
      }
    }
    if (port.container_port > 0) {
      auto [it, fresh] = container_ports.emplace(std::pair(port.container_port, port.protocol), i);
      if (!fresh) {
        Error(*p.Get("containerPort"), p.Path("containerPort"),
              absl::StrCat("duplicate port ", port.container_port, "/", ProtocolName(port.protocol),
                           " (also spec.ports[", it->second, "])"));
      }
    }
    if (port.host_port > 0) {
      if (host_network && port.host_port != port.container_port && port.container_port > 0) {
        Error(*p.Get("hostPort"), p.Path("hostPort"),
              absl::StrCat("must equal containerPort (", port.container_port,
                           ") with hostNetwork: true, got ", port.host_port));
      }
      for (size_t j = 0; j < ports->size(); ++j) {
        const ContainerPort& other = (*ports)[j];
        if (other.host_port == port.host_port && other.protocol == port.protocol &&
            (other.host_ip == port.host_ip || other.host_ip.empty() || port.host_ip.empty())) {
          Error(*p.Get("hostPort"), p.Path("hostPort"),
                absl::StrCat("duplicate host port ", port.host_port, "/",
                             ProtocolName(port.protocol), " (also spec.ports[", j, "])"));
          break;
        }
      }
    }
    ports->push_back(std::move(port));
  }
}

void NetworkDecoder::DecodeDns(const Fields& s, NodeContainerSpec* spec) {
  std::string policy;
  const YamlNode* policy_node = String(s, "dnsPolicy", &policy);
  if (policy_node) {
    if (policy == "None") {
      spec->dns_policy = DnsPolicy::kNone;
    } else if (policy == "ClusterFirst" || policy == "ClusterFirstWithHostNet") {
      Error(*policy_node, s.Path("dnsPolicy"),
            absl::StrCat("dnsPolicy ", policy,
                         " is not supported: a node has no cluster DNS (accepted: Default, the "
                         "node's resolv.conf; None, with dnsConfig)"));
    } else if (policy != "Default") {
      Error(
          *policy_node, s.Path("dnsPolicy"),
          absl::StrCat("unknown dnsPolicy ", QuoteForError(policy), " (accepted: Default, None)"));
    }
  }
  Fields c = Sub(s, "dnsConfig", {"nameservers", "searches", "options"});
  if (c.map) {
    DnsConfig& config = spec->dns_config.emplace();
    StringList(c, "nameservers", &config.nameservers);
    if (const YamlNode* n = c.Get("nameservers"); n && n->kind == YamlKind::kSequence) {
      for (size_t i = 0; i < config.nameservers.size() && i < n->children.size(); ++i) {
        if (!IsIpAddress(config.nameservers[i])) {
          Error(At(n->children[i]), ItemPath(c.Path("nameservers"), i),
                absl::StrCat("must be a valid IP address, got ",
                             QuoteForError(config.nameservers[i])));
        }
      }
      if (config.nameservers.size() > kMaxNameservers) {
        Error(*n, c.Path("nameservers"),
              absl::StrCat("must have at most ", kMaxNameservers, " items, got ",
                           config.nameservers.size()));
      }
    }
    StringList(c, "searches", &config.searches);
    if (const YamlNode* n = c.Get("searches"); n && n->kind == YamlKind::kSequence) {
      size_t chars = 0;
      for (size_t i = 0; i < config.searches.size() && i < n->children.size(); ++i) {
        chars += config.searches[i].size() + (i > 0 ? 1 : 0);
        absl::string_view search = absl::StripSuffix(config.searches[i], ".");
        if (absl::Status st = runtime::ValidateDnsSubdomain("search domain", search); !st.ok()) {
          Error(At(n->children[i]), ItemPath(c.Path("searches"), i), std::string(st.message()));
        }
      }
      if (config.searches.size() > kMaxSearches) {
        Error(*n, c.Path("searches"),
              absl::StrCat("must have at most ", kMaxSearches, " items, got ",
                           config.searches.size()));
      } else if (chars > kMaxSearchChars) {
        Error(
            *n, c.Path("searches"),
            absl::StrCat("must have at most ", kMaxSearchChars, " characters in all, got ", chars));
      }
    }
    if (const YamlNode* list = Sequence(c, "options")) {
      for (size_t i = 0; i < list->children.size(); ++i) {
        Fields o =
            ReadFields(At(list->children[i]), ItemPath(c.Path("options"), i), {"name", "value"});
        if (!o.map) continue;
        DnsOption option;
        if (Require(o, "name") && String(o, "name", &option.name) && option.name.empty()) {
          Error(*o.Get("name"), o.Path("name"), "must not be empty");
        }
        std::string value;
        if (String(o, "value", &value)) option.value = std::move(value);
        config.options.push_back(std::move(option));
      }
    }
  }
  if (spec->host_network && (spec->dns_policy == DnsPolicy::kNone || c.map)) {
    const YamlNode& at = c.map ? *c.map : *policy_node;
    Error(at, c.map ? c.path : s.Path("dnsPolicy"),
          "has no effect with hostNetwork: true (the container sees the node's "
          "/etc/resolv.conf)");
  } else if (spec->dns_policy == DnsPolicy::kNone) {
    if (!c.map) {
      Error(*policy_node, s.Path("dnsConfig"),
            "required with dnsPolicy: None (it gives the container's whole resolv.conf)");
    } else if (spec->dns_config->nameservers.empty()) {
      Error(*c.map, c.Path("nameservers"),
            "must give at least one nameserver with dnsPolicy: None");
    }
  } else if (c.map) {
    Error(*c.map, c.path,
          "is used only with dnsPolicy: None (Berth does not merge it into the node's "
          "resolv.conf; set dnsPolicy: None and give the whole configuration)");
  }
}

void NetworkDecoder::DecodeHostAliases(const Fields& s, std::vector<HostAlias>* aliases) {
  const YamlNode* list = Sequence(s, "hostAliases");
  if (!list) return;
  std::map<std::string, size_t> ips;
  for (size_t i = 0; i < list->children.size(); ++i) {
    Fields a =
        ReadFields(At(list->children[i]), ItemPath(s.Path("hostAliases"), i), {"ip", "hostnames"});
    if (!a.map) continue;
    HostAlias alias;
    if (Require(a, "ip") && Ip(a, "ip", &alias.ip)) {
      if (auto [it, fresh] = ips.emplace(alias.ip, i); !fresh) {
        Error(*a.Get("ip"), a.Path("ip"),
              absl::StrCat("duplicate ip ", QuoteForError(alias.ip), " (also spec.hostAliases[",
                           it->second, "])"));
      }
    }
    if (Require(a, "hostnames")) {
      StringList(a, "hostnames", &alias.hostnames);
      const YamlNode& n = *a.Get("hostnames");
      if (n.kind == YamlKind::kSequence) {
        if (n.children.empty()) Error(n, a.Path("hostnames"), "must have at least one hostname");
        for (size_t j = 0; j < alias.hostnames.size() && j < n.children.size(); ++j) {
          if (absl::Status st = runtime::ValidateDnsSubdomain("hostname", alias.hostnames[j]);
              !st.ok()) {
            Error(At(n.children[j]), ItemPath(a.Path("hostnames"), j), std::string(st.message()));
          }
        }
      }
    }
    aliases->push_back(std::move(alias));
  }
}

}  // namespace berth::controller
