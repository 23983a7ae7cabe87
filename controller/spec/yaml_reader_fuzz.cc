// Fuzzes the bounded YAML reader with the invariants spec_parser.cc relies
// on: every document is a tree over valid node indexes (each child after
// its parent, so no cycle), within the depth and node caps; mappings have
// keys and values in pairs; scalar typing, integer parsing and mapping
// entries never fail on any node; a document with an alias is refused.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controller/spec/yaml_reader.h"

namespace {

using berth::controller::YamlDocument;
using berth::controller::YamlKind;
using berth::controller::YamlNode;

// The header's caps.
constexpr size_t kMaxNodes = 10000;
constexpr int kMaxDepth = 64;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "yaml_reader_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

void CheckDocument(const YamlDocument& doc) {
  Check(!doc.nodes.empty(), "a document has a root");
  Check(doc.nodes.size() <= kMaxNodes + 1, "node cap");
  Check(doc.line >= 1, "document line is 1-based");
  std::vector<int> depth(doc.nodes.size(), -1);
  depth[0] = 0;
  bool has_alias = false;
  for (size_t i = 0; i < doc.nodes.size(); ++i) {
    const YamlNode& n = doc.nodes[i];
    Check(depth[i] >= 0, "every node is reached from the root");
    Check(depth[i] <= kMaxDepth + 1, "depth cap");
    Check(n.line >= 1 && n.column >= 1, "node positions are 1-based");
    if (n.kind == YamlKind::kAlias) has_alias = true;
    if (n.kind == YamlKind::kMap) Check(n.children.size() % 2 == 0, "mapping keys pair values");
    if (n.kind != YamlKind::kMap && n.kind != YamlKind::kSequence) {
      Check(n.children.empty(), "only collections have children");
    }
    for (int c : n.children) {
      Check(c > static_cast<int>(i) && c < static_cast<int>(doc.nodes.size()),
            "children come after their parent, within the document");
      Check(depth[c] == -1, "a node has one parent");
      depth[c] = depth[i] + 1;
    }
    berth::controller::TypeOf(n);
    const std::string described = berth::controller::Describe(n);
    Check(!described.empty(), "Describe names every node");
    if (n.kind == YamlKind::kScalar) {
      int64_t value = 0;
      bool overflow = false;
      berth::controller::ParseYamlInt(n.value, &value, &overflow);
      if (berth::controller::TypeOf(n) == berth::controller::YamlType::kBool) {
        berth::controller::YamlBoolValue(n);
      }
    }
    if (n.kind == YamlKind::kMap && !doc.refused) {
      std::vector<berth::controller::YamlEntry> entries =
          berth::controller::MappingEntries(doc, n, "fuzz");
      Check(entries.size() * 2 == n.children.size(), "one entry per key");
    }
  }
  if (has_alias) Check(doc.refused.has_value(), "a document with an alias is refused");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view content(reinterpret_cast<const char*>(data), size);
  int documents = 0;
  std::optional<berth::controller::YamlFileError> error =
      berth::controller::ReadYamlDocuments(content, [&](const YamlDocument& doc) {
        ++documents;
        CheckDocument(doc);
      });
  if (error) Check(error->line >= 0 && error->column >= 0, "error positions not negative");
  const std::string shown = berth::controller::QuoteForError(content);
  for (unsigned char c : shown) Check(c >= 0x20 && c <= 0x7e, "QuoteForError is printable");
  Check(shown.size() <= 2 + 4 * berth::controller::kMaxShownBytes + 3, "QuoteForError is short");
  return 0;
}
