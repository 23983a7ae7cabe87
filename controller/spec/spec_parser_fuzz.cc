// Fuzzes the NodeContainer manifest parser (ParseManifests,
// ParseNodeContainer) with what the header promises of hostile input: no
// crash, throw or loop; errors capped and showing the input only
// C-escaped; every object accepted maps to a valid container id; parsing
// is deterministic (same objects, same spec hashes).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "controller/spec/node_container.h"
#include "controller/spec/spec_hash.h"
#include "controller/spec/spec_parser.h"
#include "runtime/names.h"

namespace {

// The header's cap: 100 errors, then one saying how many more there were.
constexpr size_t kMaxReportedErrors = 101;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "spec_parser_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

bool Printable(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using berth::controller::ParseManifests;
  const absl::string_view content(reinterpret_cast<const char*>(data), size);
  berth::controller::ParseResult first = ParseManifests(content, "fuzz.yaml");
  Check(first.errors.size() <= kMaxReportedErrors, "error count capped");
  for (const berth::controller::ParseError& e : first.errors) {
    Check(Printable(e.ToString()), "errors show the input C-escaped only");
    Check(e.line >= 0 && e.column >= 0, "error positions are not negative");
  }
  if (size > berth::controller::kMaxManifestBytes) {
    Check(first.objects.empty() && first.errors.size() == 1, "oversized input: one error");
  }
  for (const berth::controller::NodeContainer& o : first.objects) {
    Check(berth::runtime::ValidateContainerId(berth::controller::ContainerIdFor(o.metadata)).ok(),
          "an accepted object has a valid container id");
  }

  berth::controller::ParseResult second = ParseManifests(content, "fuzz.yaml");
  Check(second.objects.size() == first.objects.size(), "deterministic: object count");
  Check(second.errors.size() == first.errors.size(), "deterministic: error count");
  for (size_t i = 0; i < first.objects.size(); ++i) {
    Check(berth::controller::SpecHash(first.objects[i].spec) ==
              berth::controller::SpecHash(second.objects[i].spec),
          "deterministic: spec hash");
  }

  absl::StatusOr<berth::controller::NodeContainer> one =
      berth::controller::ParseNodeContainer(content, "api");
  Check(one.ok() == (first.objects.size() == 1 && first.errors.empty()),
        "ParseNodeContainer accepts exactly one object without errors");
  if (!one.ok()) Check(Printable(one.status().message()), "status shows the input C-escaped");
  return 0;
}
