#include "controller/spec/quantity.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace berth::controller {
namespace {

constexpr size_t kMaxQuantityLength = 64;
constexpr int kMaxSignificantDigits = 19;  // fits in uint64_t
constexpr int64_t kMaxValue = std::numeric_limits<int64_t>::max();

// value = mantissa * 10^exp10 * 2^exp2, mantissa < 10^19, exp2 <= 60.
struct Quantity {
  uint64_t mantissa = 0;
  int exp10 = 0;
  int exp2 = 0;
};

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  std::string shown(text.substr(0, kMaxQuantityLength));
  if (text.size() > kMaxQuantityLength) shown += "...";
  return absl::InvalidArgumentError(
      absl::StrCat("parse quantity \"", absl::CHexEscape(shown), "\": ", why));
}

// Applies a suffix to `q`; false when `suffix` is not one.
bool ApplySuffix(absl::string_view suffix, Quantity& q) {
  static constexpr struct {
    absl::string_view name;
    int exp10;
    int exp2;
  } kSuffixes[] = {
      {"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
      {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
      {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
  };
  for (const auto& s : kSuffixes) {
    if (suffix == s.name) {
      q.exp10 += s.exp10;
      q.exp2 += s.exp2;
      return true;
    }
  }
  // A decimal exponent: e<n> or E<n> (a lone "E" is exa, handled above).
  if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return false;
  size_t i = 1;
  bool negative = false;
  if (suffix[i] == '+' || suffix[i] == '-') negative = suffix[i++] == '-';
  if (i == suffix.size()) return false;
  int exponent = 0;
  for (; i < suffix.size(); ++i) {
    if (!absl::ascii_isdigit(suffix[i])) return false;
    // Saturate: anything this large over- or underflows int64 anyway.
    if (exponent < 100000) exponent = exponent * 10 + (suffix[i] - '0');
  }
  q.exp10 += negative ? -exponent : exponent;
  return true;
}

absl::StatusOr<Quantity> Parse(absl::string_view text) {
  if (text.empty()) return Invalid(text, "empty quantity");
  if (text.size() > kMaxQuantityLength) {
    return Invalid(text, "longer than 64 characters");
  }
  Quantity q;
  size_t i = 0;
  bool negative = false;
  if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
  bool any_digit = false;
  bool seen_dot = false;
  int significant = 0;    // digits in q.mantissa
  int pending_zeros = 0;  // zeros after the last non-zero digit
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !seen_dot) {
      seen_dot = true;
      continue;
    }
    if (!absl::ascii_isdigit(c)) break;
    any_digit = true;
    if (seen_dot) --q.exp10;
    if (c == '0') {
      if (significant > 0) ++pending_zeros;
      continue;
    }
    if (significant + pending_zeros + 1 > kMaxSignificantDigits) {
      return Invalid(text, "more than 19 significant digits");
    }
    for (; pending_zeros > 0; --pending_zeros, ++significant) {
      q.mantissa *= 10;
    }
    q.mantissa = q.mantissa * 10 + static_cast<uint64_t>(c - '0');
    ++significant;
  }
  q.exp10 += pending_zeros;
  if (!any_digit) {
    return Invalid(text,
                   "expected a number such as \"500m\", \"1.5\", \"64Mi\" or "
                   "\"1e3\"");
  }
  absl::string_view suffix = text.substr(i);
  if (!ApplySuffix(suffix, q)) {
    return Invalid(text, absl::StrCat("unknown suffix \"", absl::CHexEscape(suffix),
                                      "\" (accepted: n, u, m, k, M, G, T, P, E, Ki, "
                                      "Mi, Gi, Ti, Pi, Ei, e<exponent>)"));
  }
  if (negative) return Invalid(text, "must not be negative");
  return q;
}

// Returns ceil(q * 10^extra_exp10) as int64_t.
absl::StatusOr<int64_t> Scale(absl::string_view text, const Quantity& q, int extra_exp10,
                              absl::string_view unit) {
  if (q.mantissa == 0) return 0;
  const int exp10 = q.exp10 + extra_exp10;
  // mantissa < 2^64 and exp2 <= 60, so num < 2^124 and never overflows.
  __int128 num = static_cast<__int128>(q.mantissa) << q.exp2;
  auto too_large = [&] {
    return Invalid(text, absl::StrCat("too large (more than ", kMaxValue, " ", unit, ")"));
  };
  if (exp10 >= 0) {
    for (int k = 0; k < exp10; ++k) {
      if (num > kMaxValue) return too_large();
      num *= 10;
    }
    if (num > kMaxValue) return too_large();
    return static_cast<int64_t>(num);
  }
  // 0 < num < 2^124 < 10^38: dividing by 10^38 or more leaves less than one.
  if (-exp10 >= 38) return 1;
  __int128 den = 1;
  for (int k = 0; k < -exp10; ++k) den *= 10;
  __int128 rounded_up = (num + den - 1) / den;
  if (rounded_up > kMaxValue) return too_large();
  return static_cast<int64_t>(rounded_up);
}

}  // namespace

absl::StatusOr<int64_t> ParseCpuMillis(absl::string_view quantity) {
  absl::StatusOr<Quantity> q = Parse(quantity);
  if (!q.ok()) return q.status();
  return Scale(quantity, *q, 3, "millicores");
}

absl::StatusOr<int64_t> ParseBytes(absl::string_view quantity) {
  absl::StatusOr<Quantity> q = Parse(quantity);
  if (!q.ok()) return q.status();
  return Scale(quantity, *q, 0, "bytes");
}

}  // namespace berth::controller
