// Fuzzes the resource quantity parser. Besides no crash (and no signed
// overflow: UBSan aborts on one): results are never negative, the canonical
// forms of a result parse back to it ("<bytes>", "<millis>m"), and plain
// decimal integers mean what they say.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "controller/spec/quantity.h"

namespace {

void Check(bool ok, const char* what, absl::string_view input) {
  if (!ok) {
    std::fprintf(stderr, "quantity_fuzz: property violated for \"%s\": %s\n",
                 std::string(input).c_str(), what);
    std::abort();
  }
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view q(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<int64_t> bytes = berth::controller::ParseBytes(q);
  if (bytes.ok()) {
    Check(*bytes >= 0, "bytes not negative", q);
    absl::StatusOr<int64_t> again = berth::controller::ParseBytes(absl::StrCat(*bytes));
    Check(again.ok() && *again == *bytes, "canonical bytes parse back", q);
  }
  absl::StatusOr<int64_t> millis = berth::controller::ParseCpuMillis(q);
  if (millis.ok()) {
    Check(*millis >= 0, "millicores not negative", q);
    absl::StatusOr<int64_t> again = berth::controller::ParseCpuMillis(absl::StrCat(*millis, "m"));
    Check(again.ok() && *again == *millis, "canonical millicores parse back", q);
  }
  int64_t plain = 0;
  if (AllDigits(q) && q.size() <= 18 && absl::SimpleAtoi(q, &plain)) {
    Check(bytes.ok() && *bytes == plain, "a decimal integer is that many bytes", q);
  }
  return 0;
}
