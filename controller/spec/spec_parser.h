// Parsing and validation of NodeContainer manifests (YAML files in a
// manifests directory) and of NodeContainer objects from the Kubernetes API
// (JSON, which is YAML).
//
// Strict, and kept in step with the CRD in crds/ so that a manifest accepted
// here is also accepted by `kubectl apply`. Unknown fields, duplicate keys,
// wrong types and invalid values are errors, each with the line:column of the
// offending node. Scalars are typed as the API server's YAML reader (YAML 1.1)
// types them, so `value: 1`, `value: yes` or `cpu: 1.5` for a string or
// int-or-string field are errors that say to quote the value. Tolerated and
// ignored: `status` and server-set metadata (creationTimestamp, managedFields,
// deletionTimestamp, finalizers, ownerReferences, ...); uid and resourceVersion
// are kept.
//
// Errors quote at most a short, C-escaped part of an offending key (32 bytes)
// or value (64 bytes): the input may be some other file. A document that is
// not an object at all (not a mapping, or a mapping with none of apiVersion,
// kind, metadata and spec, as /etc/shadow or a .env file reads) gets one
// error that quotes nothing of it, and all such documents of a file share
// that one error.
//
// Hostile input is bounded: content over 1 MiB is refused unparsed; NUL and
// other control characters and invalid UTF-8 are refused before the parser sees
// them; YAML aliases are refused (no "billion laughs"); nesting depth (64),
// nodes per document (10000), flow-collection size and the number of
// reported errors (100) are capped. No input makes these functions crash,
// throw or loop.
#ifndef BERTH_CONTROLLER_SPEC_SPEC_PARSER_H_
#define BERTH_CONTROLLER_SPEC_SPEC_PARSER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

// Largest manifest file or API object accepted.
inline constexpr size_t kMaxManifestBytes = 1 << 20;

struct ParseError {
  std::string file;   // as given to the parser; may be empty
  int line = 0;       // 1-based; 0 when the error has no position
  int column = 0;     // 1-based; 0 when the error has no position
  std::string field;  // e.g. "spec.mounts[1].mountPath"; empty for syntax
  std::string reason;

  // "file:line:col: field: reason", leaving out empty or zero parts.
  std::string ToString() const;
};

struct ParseResult {
  std::vector<NodeContainer> objects;
  std::vector<ParseError> errors;
};

// Parses every document in `content`; `file` names it in errors and in
// NodeContainer::source ("file:line" of the document start). Empty documents
// are skipped. A document with any error yields no object (never a
// half-parsed one) and does not affect the other documents. A file that
// cannot be read as YAML (syntax error, over 1 MiB, invalid bytes, over a
// nesting or size cap) yields exactly one error and no objects at all.
ParseResult ParseManifests(absl::string_view content, absl::string_view file);

// Parses exactly one NodeContainer, JSON or YAML, with the same validation.
// `source` becomes NodeContainer::source verbatim (e.g. "api"). Errors are
// kInvalidArgument: "parse NodeContainer <source>: <line:col: field: reason>
// [; ...]".
absl::StatusOr<NodeContainer> ParseNodeContainer(absl::string_view content,
                                                 absl::string_view source);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_SPEC_PARSER_H_
