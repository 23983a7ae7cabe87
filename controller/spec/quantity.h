// Kubernetes resource quantities ("500m", "1.5", "64Mi", "1G", "1e3"), as
// used in NodeContainer resource limits.
//
// Grammar (as in k8s.io/apimachinery/pkg/api/resource):
//   quantity := [+-] number [suffix]
//   number   := digits | digits "." [digits] | "." digits
//   suffix   := binarySI | decimalSI | ("e" | "E") [+-] digits
//   binarySI := Ki | Mi | Gi | Ti | Pi | Ei          (powers of 1024)
//   decimalSI := n | u | m | k | M | G | T | P | E  (powers of 1000)
// Results are rounded up to the next whole unit, as Kubernetes does
// ("0.1m" of CPU is 1 millicore, "0.5" bytes is 1 byte). A '-' sign,
// values above INT64_MAX, more than 19 significant digits and anything else
// not matching the grammar are kInvalidArgument.
#ifndef BERTH_CONTROLLER_SPEC_QUANTITY_H_
#define BERTH_CONTROLLER_SPEC_QUANTITY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::controller {

// CPU in millicores: "500m" -> 500, "1.5" -> 1500, "2" -> 2000.
absl::StatusOr<int64_t> ParseCpuMillis(absl::string_view quantity);

// Bytes: "64Mi" -> 67108864, "1G" -> 1000000000, "1e3" -> 1000,
// "1024" -> 1024.
absl::StatusOr<int64_t> ParseBytes(absl::string_view quantity);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_QUANTITY_H_
