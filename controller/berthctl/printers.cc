#include "controller/berthctl/printers.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/api/spec_yaml.h"
#include "google/protobuf/util/json_util.h"

namespace berth::berthctl {

std::string FormatAge(absl::Duration d) {
  const int64_t seconds = absl::ToInt64Seconds(d);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return absl::StrCat(seconds, "s");
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    return seconds % 60 == 0 ? absl::StrCat(minutes, "m")
                             : absl::StrCat(minutes, "m", seconds % 60, "s");
  }
  if (minutes < 60 * 3) return absl::StrCat(minutes, "m");
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    return minutes % 60 == 0 ? absl::StrCat(hours, "h")
                             : absl::StrCat(hours, "h", minutes % 60, "m");
  }
  if (hours < 48) return absl::StrCat(hours, "h");
  if (hours < 24 * 8) {
    return hours % 24 == 0 ? absl::StrCat(hours / 24, "d")
                           : absl::StrCat(hours / 24, "d", hours % 24, "h");
  }
  if (hours < 24 * 365 * 2) return absl::StrCat(hours / 24, "d");
  if (hours < 24 * 365 * 8) {
    const int64_t days = (hours / 24) % 365;
    return days == 0 ? absl::StrCat(hours / 24 / 365, "y")
                     : absl::StrCat(hours / 24 / 365, "y", days, "d");
  }
  return absl::StrCat(hours / 24 / 365, "y");
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string AgeOf(const google::protobuf::Timestamp& t, absl::Time now) {
  if (t.seconds() == 0 && t.nanos() == 0) return "<unknown>";
  return FormatAge(now - TimeOf(t));
}

void Table::Print(std::ostream& out, bool header) {
  auto grow = [this](const std::vector<std::string>& row) {
    if (widths_.size() < row.size()) widths_.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths_[i] = std::max({widths_[i], row[i].size() + 3, size_t{10}});
    }
  };
  grow(header_);
  for (const auto& r : rows_) grow(r);
  if (header) PrintRow(out, header_);
  for (const auto& r : rows_) PrintRow(out, r);
  rows_.clear();
  out.flush();
}

void Table::PrintRow(std::ostream& out, const std::vector<std::string>& row) const {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    line += row[i];
    if (i + 1 < row.size()) line.append(widths_[i] - row[i].size(), ' ');
  }
  out << line << "\n";
}

nlohmann::json ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) {
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json ListJson(const std::vector<nlohmann::json>& items, uint64_t revision) {
  return {{"apiVersion", "berth.v1"},
          {"kind", "List"},
          {"items", items},
          {"metadata", {{"revision", std::to_string(revision)}}}};
}

namespace {

// A literal block keeps a multi-line string readable; only for text it
// reads back exactly (a final newline, no trailing blanks or control
// characters, no leading blank on the first line).
bool FitsLiteralBlock(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[0] == ' ' || s[0] == '\n') return false;
  if (absl::EndsWith(s, "\n\n")) return false;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(s).substr(0, s.size() - 1), '\n')) {
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) return false;
    for (unsigned char c : line) {
      if (c < 0x20 && c != '\t') return false;
    }
  }
  return true;
}

void Emit(const nlohmann::json& j, const std::string& indent, bool in_list, std::string* out);

// A value after "key:" or "- ".
void EmitValue(const nlohmann::json& v, const std::string& indent, std::string* out) {
  if (v.is_object() && !v.empty()) {
    *out += "\n";
    Emit(v, indent + "  ", false, out);
  } else if (v.is_array() && !v.empty()) {
    *out += "\n";
    Emit(v, indent, true, out);
  } else if (v.is_object()) {
    *out += " {}\n";
  } else if (v.is_array()) {
    *out += " []\n";
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (FitsLiteralBlock(s)) {
      *out += " |\n";
      for (absl::string_view line :
           absl::StrSplit(absl::string_view(s).substr(0, s.size() - 1), '\n')) {
        absl::StrAppend(out, line.empty() ? "" : indent + "  ", line, "\n");
      }
    } else {
      absl::StrAppend(out, " ", api::YamlScalar(s), "\n");
    }
  } else if (v.is_null()) {
    *out += " null\n";
  } else {
    absl::StrAppend(out, " ", v.dump(), "\n");
  }
}

void Emit(const nlohmann::json& j, const std::string& indent, bool in_list, std::string* out) {
  if (in_list) {
    for (const nlohmann::json& item : j) {
      if (item.is_object() && !item.empty()) {
        // "- key: value" then the other keys under it.
        std::string first;
        Emit(item, indent + "  ", false, &first);
        absl::StrAppend(out, indent, "- ", first.substr(indent.size() + 2));
      } else {
        absl::StrAppend(out, indent, "-");
        EmitValue(item, indent + "  ", out);
      }
    }
    return;
  }
  for (const auto& [key, value] : j.items()) {
    absl::StrAppend(out, indent, api::YamlScalar(key), ":");
    EmitValue(value, indent, out);
  }
}

}  // namespace

std::string ToYaml(const nlohmann::json& json) {
  std::string out;
  if (json.is_object() && !json.empty()) {
    Emit(json, "", false, &out);
  } else {
    EmitValue(json, "", &out);
    out.erase(0, 1);
  }
  return out;
}

}  // namespace berth::berthctl
