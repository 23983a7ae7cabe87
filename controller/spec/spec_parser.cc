#include "controller/spec/spec_parser.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "controller/spec/quantity.h"
#include "controller/spec/yaml_reader.h"
#include "runtime/names.h"

namespace berth::controller {
namespace {

// spec_parser.h promises the YAML reader's size limit.
static_assert(kMaxManifestBytes == kMaxYamlBytes);

constexpr size_t kMaxErrors = 100;
constexpr int64_t kMaxGracePeriodSeconds = 31536000;  // one year
constexpr int64_t kMinMemoryBytes = 4096;
constexpr int64_t kMaxId = 4294967294;  // (uid_t)-1 means "unchanged"

// Parses a signal: "SIGTERM", "TERM" (any case), "15" or 1-64.
std::optional<int> ParseSignal(absl::string_view text) {
  static const auto* kSignals = new std::map<std::string, int>{
      {"HUP", 1},   {"INT", 2},   {"QUIT", 3},    {"ILL", 4},   {"TRAP", 5},    {"ABRT", 6},
      {"IOT", 6},   {"BUS", 7},   {"FPE", 8},     {"KILL", 9},  {"USR1", 10},   {"SEGV", 11},
      {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14},   {"TERM", 15}, {"STKFLT", 16}, {"CHLD", 17},
      {"CONT", 18}, {"STOP", 19}, {"TSTP", 20},   {"TTIN", 21}, {"TTOU", 22},   {"URG", 23},
      {"XCPU", 24}, {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27}, {"WINCH", 28},  {"IO", 29},
      {"POLL", 29}, {"PWR", 30},  {"SYS", 31}};
  if (!text.empty() && text.size() <= 2 &&
      std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) {
    int n = 0;
    for (char c : text) n = n * 10 + (c - '0');
    if (n >= 1 && n <= 64) return n;
    return std::nullopt;
  }
  std::string name = absl::AsciiStrToUpper(text);
  if (absl::StartsWith(name, "SIG")) name.erase(0, 3);
  auto it = kSignals->find(name);
  if (it == kSignals->end()) return std::nullopt;
  return it->second;
}

// Parses a decimal id 0..kMaxId.
std::optional<uint32_t> ParseId(absl::string_view text) {
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) {
    return std::nullopt;
  }
  int64_t n = 0;
  for (char c : text) n = n * 10 + (c - '0');
  if (n > kMaxId) return std::nullopt;
  return static_cast<uint32_t>(n);
}

// Kubernetes label and annotation keys: [DNS subdomain "/"] name, and label
// values: empty or a name. A name is 1-63 of [A-Za-z0-9._-], starting and
// ending alphanumeric. The API server rejects anything else.
bool IsLabelName(absl::string_view s) {
  return !s.empty() && s.size() <= 63 && absl::ascii_isalnum(s.front()) &&
         absl::ascii_isalnum(s.back()) && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}
bool IsQualifiedName(absl::string_view key) {
  std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
  if (parts.size() > 2) return false;
  if (parts.size() == 2 && !runtime::ValidateDnsSubdomain("", parts[0]).ok()) {
    return false;
  }
  return IsLabelName(parts.back());
}

// ---- Decoding one document into a NodeContainer. ----

// A mapping's fields after key checks; null values are left out.
struct Fields {
  const YamlNode* map = nullptr;  // nullptr when absent or not a mapping
  std::string path;
  std::map<std::string, const YamlNode*, std::less<>> values;

  const YamlNode* Get(absl::string_view key) const {
    auto it = values.find(key);
    return it == values.end() ? nullptr : it->second;
  }
  std::string Path(absl::string_view key) const { return FieldPath(path, key); }
};

enum class MapKind { kPlain, kLabels, kAnnotations };

class Decoder {
 public:
  Decoder(const YamlDocument& doc, absl::string_view file)
      : nodes_(doc.nodes), doc_(doc), file_(file) {}

  // Returns the object if the document has no errors; see errors().
  std::optional<NodeContainer> Decode();
  std::vector<ParseError>& errors() { return errors_; }
  // The document is not an object at all (not a mapping, or a mapping with
  // none of an object's top-level fields); errors() has one error saying so.
  bool foreign() const { return foreign_; }

 private:
  const YamlNode& At(int index) const { return nodes_[index]; }
  void Error(const YamlNode& at, std::string field, std::string reason) {
    errors_.push_back(
        ParseError{std::string(file_), at.line, at.column, std::move(field), std::move(reason)});
  }
  void Error(const YamlNodeError& e) {
    errors_.push_back(ParseError{std::string(file_), e.line, e.column, e.path, e.reason});
  }

  // Checks a mapping's keys (strings, no duplicates, all in `accepted`
  // unless it is empty).
  Fields ReadFields(const YamlNode& n, std::string path,
                    std::initializer_list<absl::string_view> accepted);
  Fields Sub(const Fields& f, absl::string_view key,
             std::initializer_list<absl::string_view> accepted) {
    const YamlNode* n = f.Get(key);
    return n ? ReadFields(*n, f.Path(key), accepted) : Fields{};
  }
  // Reports `key` missing from an existing mapping; true when present.
  bool Require(const Fields& f, absl::string_view key) {
    if (f.Get(key)) return true;
    if (f.map) Error(*f.map, f.Path(key), "required field is missing");
    return false;
  }
  bool ReadString(const YamlNode& n, const std::string& path, std::string* out);
  bool ReadIntOrString(const YamlNode& n, const std::string& path, std::string* out);
  // Field readers: return the node read, or nullptr when the field is
  // absent or was reported as invalid.
  const YamlNode* String(const Fields& f, absl::string_view key, std::string* out) {
    const YamlNode* n = f.Get(key);
    return n && ReadString(*n, f.Path(key), out) ? n : nullptr;
  }
  const YamlNode* IntOrString(const Fields& f, absl::string_view key, std::string* out) {
    const YamlNode* n = f.Get(key);
    return n && ReadIntOrString(*n, f.Path(key), out) ? n : nullptr;
  }
  void Int(const Fields& f, absl::string_view key, int64_t min, int64_t max, int64_t* out);
  void Bool(const Fields& f, absl::string_view key, bool* out);
  void StringList(const Fields& f, absl::string_view key, std::vector<std::string>* out);
  void StringMap(const Fields& f, absl::string_view key, MapKind kind,
                 std::map<std::string, std::string>* out);
  void Quantity(const Fields& f, absl::string_view key, bool cpu, int64_t min,
                absl::string_view min_text, int64_t* out);
  void Path(const Fields& f, absl::string_view key, std::string* out);
  // Reports a validator's error on field `key`.
  void Check(const Fields& f, absl::string_view key, const absl::Status& status) {
    if (!status.ok()) {
      Error(*f.Get(key), f.Path(key), std::string(status.message()));
    }
  }

  void DecodeMetadata(const Fields& m, ObjectMeta* meta);
  void DecodeSpec(const Fields& s, NodeContainerSpec* spec);
  void DecodeEnv(const Fields& s, std::vector<EnvVar>* env);
  void DecodeMounts(const Fields& s, std::vector<Mount>* mounts);
  void DecodePullSecrets(const Fields& s, std::vector<std::string>* names);

  const std::vector<YamlNode>& nodes_;
  const YamlDocument& doc_;
  absl::string_view file_;
  std::vector<ParseError> errors_;
  bool foreign_ = false;
};

Fields Decoder::ReadFields(const YamlNode& n, std::string path,
                           std::initializer_list<absl::string_view> accepted) {
  Fields fields;
  fields.path = std::move(path);
  if (n.kind != YamlKind::kMap) {
    Error(n, fields.path, absl::StrCat("expected a mapping, got ", Describe(n)));
    return fields;
  }
  fields.map = &n;
  for (const YamlEntry& entry : MappingEntries(doc_, n, fields.path)) {
    const YamlNode& key = *entry.key;
    if (entry.error) {
      Error(*entry.error);
    } else if (accepted.size() > 0 &&
               std::find(accepted.begin(), accepted.end(), key.value) == accepted.end()) {
      Error(key, FieldPath(fields.path, key.value),
            absl::StrCat("unknown field ", QuoteForError(key.value, kMaxShownKeyBytes),
                         " (accepted: ", absl::StrJoin(accepted, ", "), ")"));
    } else if (TypeOf(*entry.value) != YamlType::kNull) {
      fields.values[key.value] = entry.value;
    }
  }
  return fields;
}

bool Decoder::ReadString(const YamlNode& n, const std::string& path, std::string* out) {
  const YamlType type = TypeOf(n);
  if (type != YamlType::kString) {
    const bool quotable =
        type == YamlType::kBool || type == YamlType::kInt || type == YamlType::kFloat;
    Error(n, path,
          absl::StrCat("expected a string, got ", Describe(n),
                       quotable ? absl::StrCat(" (quote it: ", QuoteForError(n.value), ")") : ""));
    return false;
  }
  if (n.value.find('\0') != std::string::npos) {
    Error(n, path, "must not contain NUL characters");
    return false;
  }
  *out = n.value;
  return true;
}

bool Decoder::ReadIntOrString(const YamlNode& n, const std::string& path, std::string* out) {
  const YamlType type = TypeOf(n);
  if (type == YamlType::kString) return ReadString(n, path, out);
  int64_t value;
  bool overflow = false;
  if (type == YamlType::kInt && ParseYamlInt(n.value, &value, &overflow) && !overflow) {
    *out = absl::StrCat(value);
    return true;
  }
  // The CRD's int-or-string schema takes no other numbers, so neither do we:
  // a manifest that works here must work with kubectl apply.
  Error(n, path,
        overflow ? absl::StrCat("integer out of range: ", EscapeForError(n.value))
                 : absl::StrCat("expected an integer or a string, got ", Describe(n),
                                type == YamlType::kFloat
                                    ? absl::StrCat(" (quote it: ", QuoteForError(n.value), ")")
                                    : ""));
  return false;
}

void Decoder::Int(const Fields& f, absl::string_view key, int64_t min, int64_t max, int64_t* out) {
  const YamlNode* n = f.Get(key);
  if (!n) return;
  int64_t value = 0;
  bool overflow = false;
  if (TypeOf(*n) != YamlType::kInt || !ParseYamlInt(n->value, &value, &overflow)) {
    Error(*n, f.Path(key), absl::StrCat("expected an integer, got ", Describe(*n)));
  } else if (overflow || value < min || value > max) {
    Error(*n, f.Path(key),
          min == 0 && value < 0 && !overflow
              ? absl::StrCat("must not be negative, got ", EscapeForError(n->value))
              : absl::StrCat("must be between ", min, " and ", max, ", got ",
                             EscapeForError(n->value)));
  } else {
    *out = value;
  }
}

void Decoder::Bool(const Fields& f, absl::string_view key, bool* out) {
  const YamlNode* n = f.Get(key);
  if (!n) return;
  if (TypeOf(*n) != YamlType::kBool) {
    Error(*n, f.Path(key), absl::StrCat("expected a boolean, got ", Describe(*n)));
  } else {
    *out = YamlBoolValue(*n);
  }
}

void Decoder::StringList(const Fields& f, absl::string_view key, std::vector<std::string>* out) {
  const YamlNode* n = f.Get(key);
  if (!n) return;
  if (n->kind != YamlKind::kSequence) {
    Error(*n, f.Path(key), absl::StrCat("expected a sequence of strings, got ", Describe(*n)));
    return;
  }
  for (size_t i = 0; i < n->children.size(); ++i) {
    std::string value;
    if (ReadString(At(n->children[i]), ItemPath(f.Path(key), i), &value)) {
      out->push_back(std::move(value));
    }
  }
}

void Decoder::StringMap(const Fields& f, absl::string_view key, MapKind kind,
                        std::map<std::string, std::string>* out) {
  Fields m = Sub(f, key, {});
  for (const auto& [name, value] : m.values) {
    const std::string path = m.Path(name);
    std::string text;
    if (!ReadString(*value, path, &text)) continue;
    if (kind != MapKind::kPlain && !IsQualifiedName(name)) {
      Error(*value, path,
            absl::StrCat("invalid key ", QuoteForError(name, kMaxShownKeyBytes),
                         " (an optional DNS prefix and '/', then 1-63 "
                         "letters, digits, '-', '_' or '.', starting and "
                         "ending with a letter or digit)"));
    } else if (kind == MapKind::kLabels && !text.empty() && !IsLabelName(text)) {
      Error(*value, path,
            absl::StrCat("invalid label value ", QuoteForError(text),
                         " (at most 63 letters, digits, '-', '_' or '.', "
                         "starting and ending with a letter or digit)"));
    }
    (*out)[name] = std::move(text);
  }
}

void Decoder::Quantity(const Fields& f, absl::string_view key, bool cpu, int64_t min,
                       absl::string_view min_text, int64_t* out) {
  std::string text;
  const YamlNode* n = IntOrString(f, key, &text);
  if (!n) return;
  absl::StatusOr<int64_t> value = cpu ? ParseCpuMillis(text) : ParseBytes(text);
  if (!value.ok()) {
    Error(*n, f.Path(key), std::string(value.status().message()));
  } else if (*value < min) {
    Error(*n, f.Path(key),
          absl::StrCat("must be at least ", min_text, ", got ", QuoteForError(text)));
  } else {
    *out = *value;
  }
}

// An absolute path without ".." components, cleaned ("//a/./b/" -> "/a/b").
void Decoder::Path(const Fields& f, absl::string_view key, std::string* out) {
  std::string text;
  const YamlNode* n = String(f, key, &text);
  if (!n) return;
  if (!absl::StartsWith(text, "/")) {
    Error(*n, f.Path(key), absl::StrCat("must be an absolute path, got ", QuoteForError(text)));
    return;
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(text, '/', absl::SkipEmpty())) {
    if (part == "..") {
      Error(*n, f.Path(key), absl::StrCat("must not contain \"..\", got ", QuoteForError(text)));
      return;
    }
    if (part != ".") parts.push_back(part);
  }
  *out = absl::StrCat("/", absl::StrJoin(parts, "/"));
}

std::optional<NodeContainer> Decoder::Decode() {
  if (doc_.refused) {
    Error(*doc_.refused);
    return std::nullopt;
  }
  // Not an object at all (e.g. /etc/shadow read as YAML: a mapping of one
  // key per line): one error, quoting nothing of it.
  const YamlNode& root = At(0);
  if (root.kind != YamlKind::kMap) {
    foreign_ = true;
    Error(root, "", absl::StrCat("expected a mapping, got ", Describe(root)));
    return std::nullopt;
  }
  bool object_key = false;
  for (size_t i = 0; i < root.children.size() && !object_key; i += 2) {
    const YamlNode& key = At(root.children[i]);
    object_key =
        key.kind == YamlKind::kScalar && (key.value == "apiVersion" || key.value == "kind" ||
                                          key.value == "metadata" || key.value == "spec");
  }
  if (!object_key) {
    foreign_ = true;
    Error(root, "",
          "expected a NodeContainer, got a mapping without apiVersion, kind, "
          "metadata or spec");
    return std::nullopt;
  }
  Fields top = ReadFields(root, "", {"apiVersion", "kind", "metadata", "spec", "status"});
  std::string api_version, kind;
  if (Require(top, "apiVersion") && String(top, "apiVersion", &api_version) &&
      api_version != kApiVersion) {
    Error(*top.Get("apiVersion"), "apiVersion",
          absl::StrCat("unsupported apiVersion ", QuoteForError(api_version), " (expected ",
                       kApiVersion, ")"));
  }
  if (Require(top, "kind") && String(top, "kind", &kind) && kind != kKind) {
    Error(*top.Get("kind"), "kind",
          absl::StrCat("unsupported kind ", QuoteForError(kind), " (expected ", kKind, ")"));
  }
  // Another kind of object: its fields would only add noise.
  if (api_version != kApiVersion || kind != kKind) return std::nullopt;

  NodeContainer object;
  if (Require(top, "metadata")) {
    DecodeMetadata(
        Sub(top, "metadata",
            {"name", "namespace", "labels", "annotations", "generation", "uid", "resourceVersion",
             "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers",
             "generateName", "managedFields", "ownerReferences", "selfLink"}),
        &object.metadata);
  }
  if (Require(top, "spec")) {
    DecodeSpec(Sub(top, "spec",
                   {"image", "imagePullPolicy", "imagePullSecrets", "command", "args", "env",
                    "workingDir", "user", "resources", "mounts", "restartPolicy", "stopSignal",
                    "terminationGracePeriodSeconds", "nodeName", "nodeSelector", "hostNetwork"}),
               &object.spec);
  }
  if (!errors_.empty()) return std::nullopt;
  object.source = absl::StrCat(file_, ":", doc_.line);
  return object;
}

void Decoder::DecodeMetadata(const Fields& m, ObjectMeta* meta) {
  if (Require(m, "name") && String(m, "name", &meta->name)) {
    Check(m, "name", runtime::ValidateDnsSubdomain("name", meta->name));
  }
  if (String(m, "namespace", &meta->namespace_)) {
    Check(m, "namespace", runtime::ValidateDnsLabel("namespace", meta->namespace_));
  }
  StringMap(m, "labels", MapKind::kLabels, &meta->labels);
  StringMap(m, "annotations", MapKind::kAnnotations, &meta->annotations);
  Int(m, "generation", 0, INT64_MAX, &meta->generation);
  String(m, "uid", &meta->uid);
  String(m, "resourceVersion", &meta->resource_version);
  String(m, "deletionTimestamp", &meta->deletion_timestamp);
  StringList(m, "finalizers", &meta->finalizers);
}

void Decoder::DecodeSpec(const Fields& s, NodeContainerSpec* spec) {
  if (!s.map) return;
  if (Require(s, "image") && String(s, "image", &spec->image)) {
    const YamlNode& n = *s.Get("image");
    if (spec->image.empty()) {
      Error(n, s.Path("image"), "must not be empty");
    } else if (std::any_of(spec->image.begin(), spec->image.end(), [](char c) {
                 return absl::ascii_isspace(c) || absl::ascii_iscntrl(c);
               })) {
      Error(n, s.Path("image"),
            absl::StrCat("must not contain whitespace, got ", QuoteForError(spec->image)));
    }
  }
  StringList(s, "command", &spec->command);
  StringList(s, "args", &spec->args);
  DecodeEnv(s, &spec->env);
  if (const YamlNode* n = String(s, "workingDir", &spec->working_dir);
      n && !absl::StartsWith(spec->working_dir, "/")) {
    Error(*n, s.Path("workingDir"),
          absl::StrCat("must be an absolute path, got ", QuoteForError(spec->working_dir)));
  }
  std::string text;
  if (const YamlNode* n = IntOrString(s, "user", &text)) {
    std::vector<absl::string_view> ids = absl::StrSplit(text, ':');
    std::optional<uint32_t> uid = ParseId(ids[0]);
    std::optional<uint32_t> gid = ids.size() == 2 ? ParseId(ids[1]) : std::nullopt;
    if (uid && (ids.size() == 1 || (ids.size() == 2 && gid))) {
      spec->run_as_user = uid;
      spec->run_as_group = gid;
    } else {
      Error(*n, s.Path("user"),
            absl::StrCat("invalid user ", QuoteForError(text),
                         " (expected a numeric \"uid\" or \"uid:gid\", each "
                         "0-",
                         kMaxId, "; user names are not supported)"));
    }
  }
  Fields limits = Sub(Sub(s, "resources", {"limits"}), "limits", {"cpu", "memory", "pids"});
  Quantity(limits, "cpu", /*cpu=*/true, 1, "1m", &spec->limits.cpu_millis);
  Quantity(limits, "memory", /*cpu=*/false, kMinMemoryBytes, "4096 bytes",
           &spec->limits.memory_bytes);
  Quantity(limits, "pids", /*cpu=*/false, 1, "1", &spec->limits.pids);
  DecodeMounts(s, &spec->mounts);
  if (const YamlNode* n = String(s, "imagePullPolicy", &text)) {
    static const auto* kPolicies =
        new std::map<std::string, ImagePullPolicy>{{"Always", ImagePullPolicy::kAlways},
                                                   {"IfNotPresent", ImagePullPolicy::kIfNotPresent},
                                                   {"Never", ImagePullPolicy::kNever}};
    auto it = kPolicies->find(text);
    if (it != kPolicies->end()) {
      spec->image_pull_policy = it->second;
    } else {
      Error(*n, s.Path("imagePullPolicy"),
            absl::StrCat("unknown image pull policy ", QuoteForError(text),
                         " (accepted: Always, IfNotPresent, Never)"));
    }
  }
  DecodePullSecrets(s, &spec->image_pull_secrets);
  if (const YamlNode* n = String(s, "restartPolicy", &text)) {
    static const auto* kPolicies =
        new std::map<std::string, RestartPolicy>{{"Always", RestartPolicy::kAlways},
                                                 {"OnFailure", RestartPolicy::kOnFailure},
                                                 {"Never", RestartPolicy::kNever}};
    auto it = kPolicies->find(text);
    if (it != kPolicies->end()) {
      spec->restart_policy = it->second;
    } else {
      Error(*n, s.Path("restartPolicy"),
            absl::StrCat("unknown restart policy ", QuoteForError(text),
                         " (accepted: Always, OnFailure, Never)"));
    }
  }
  if (const YamlNode* n = IntOrString(s, "stopSignal", &text)) {
    if (std::optional<int> signal = ParseSignal(text)) {
      spec->stop_signal = *signal;
    } else {
      Error(*n, s.Path("stopSignal"),
            absl::StrCat("unknown signal ", QuoteForError(text),
                         " (use a name such as SIGTERM or TERM, or a number "
                         "1-64)"));
    }
  }
  Int(s, "terminationGracePeriodSeconds", 0, kMaxGracePeriodSeconds,
      &spec->termination_grace_period_seconds);
  if (String(s, "nodeName", &spec->node_name) && !spec->node_name.empty()) {
    Check(s, "nodeName", runtime::ValidateDnsSubdomain("node name", spec->node_name));
  }
  StringMap(s, "nodeSelector", MapKind::kPlain, &spec->node_selector);
  Bool(s, "hostNetwork", &spec->host_network);
}

void Decoder::DecodeEnv(const Fields& s, std::vector<EnvVar>* env) {
  const YamlNode* list = s.Get("env");
  if (!list) return;
  if (list->kind != YamlKind::kSequence) {
    Error(*list, s.Path("env"), absl::StrCat("expected a sequence, got ", Describe(*list)));
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < list->children.size(); ++i) {
    Fields e = ReadFields(At(list->children[i]), ItemPath(s.Path("env"), i), {"name", "value"});
    EnvVar var;
    if (Require(e, "name") && String(e, "name", &var.name)) {
      const bool valid = !var.name.empty() && !absl::ascii_isdigit(var.name[0]) &&
                         std::all_of(var.name.begin(), var.name.end(),
                                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
      if (!valid) {
        Error(*e.Get("name"), e.Path("name"),
              absl::StrCat("invalid environment variable name ", QuoteForError(var.name),
                           " (letters, digits and '_', not starting with a "
                           "digit)"));
      } else if (!names.insert(var.name).second) {
        Error(*e.Get("name"), e.Path("name"),
              absl::StrCat("duplicate environment variable ", QuoteForError(var.name)));
      }
    }
    String(e, "value", &var.value);
    env->push_back(std::move(var));
  }
}

// imagePullSecrets: [{name: <Secret name>}], as in a Pod spec.
void Decoder::DecodePullSecrets(const Fields& s, std::vector<std::string>* names) {
  const YamlNode* list = s.Get("imagePullSecrets");
  if (!list) return;
  if (list->kind != YamlKind::kSequence) {
    Error(*list, s.Path("imagePullSecrets"),
          absl::StrCat("expected a sequence, got ", Describe(*list)));
    return;
  }
  for (size_t i = 0; i < list->children.size(); ++i) {
    Fields ref =
        ReadFields(At(list->children[i]), ItemPath(s.Path("imagePullSecrets"), i), {"name"});
    if (!ref.map) continue;
    std::string name;
    if (Require(ref, "name") && String(ref, "name", &name)) {
      Check(ref, "name", runtime::ValidateDnsSubdomain("name", name));
      names->push_back(std::move(name));
    }
  }
}

void Decoder::DecodeMounts(const Fields& s, std::vector<Mount>* mounts) {
  const YamlNode* list = s.Get("mounts");
  if (!list) return;
  if (list->kind != YamlKind::kSequence) {
    Error(*list, s.Path("mounts"), absl::StrCat("expected a sequence, got ", Describe(*list)));
    return;
  }
  std::set<std::string> targets;
  for (size_t i = 0; i < list->children.size(); ++i) {
    Fields m = ReadFields(At(list->children[i]), ItemPath(s.Path("mounts"), i),
                          {"mountPath", "hostPath", "tmpfs", "readOnly"});
    if (!m.map) continue;
    Mount mount;
    if (Require(m, "mountPath")) {
      Path(m, "mountPath", &mount.mount_path);
      const YamlNode& n = *m.Get("mountPath");
      if (mount.mount_path == "/") {
        Error(n, m.Path("mountPath"), "must not be the container's root \"/\"");
      } else if (!mount.mount_path.empty() && !targets.insert(mount.mount_path).second) {
        Error(n, m.Path("mountPath"),
              absl::StrCat("duplicate mountPath ", QuoteForError(mount.mount_path)));
      }
    }
    if ((m.Get("hostPath") == nullptr) == (m.Get("tmpfs") == nullptr)) {
      Error(*m.map, m.path, "exactly one of hostPath or tmpfs must be set");
    }
    if (m.Get("hostPath")) {
      Fields host = Sub(m, "hostPath", {"path"});
      if (Require(host, "path")) Path(host, "path", &mount.host_path.emplace());
    }
    if (m.Get("tmpfs")) {
      Quantity(Sub(m, "tmpfs", {"sizeLimit"}), "sizeLimit", /*cpu=*/false, 0, "0",
               &mount.tmpfs_size_bytes.emplace(0));
    }
    Bool(m, "readOnly", &mount.read_only);
    mounts->push_back(std::move(mount));
  }
}

}  // namespace

std::string ParseError::ToString() const {
  std::string location = file;
  if (line > 0) {
    absl::StrAppend(&location, location.empty() ? "" : ":", line, ":", column);
  }
  std::string out;
  if (!location.empty()) absl::StrAppend(&out, location, ": ");
  if (!field.empty()) absl::StrAppend(&out, field, ": ");
  out += reason;
  return out;
}

ParseResult ParseManifests(absl::string_view content, absl::string_view file) {
  ParseResult result;
  size_t suppressed = 0;
  // Documents that are not objects at all get one error for the file (the
  // first one's), not one each.
  std::optional<size_t> first_foreign;
  size_t more_foreign = 0;
  std::optional<YamlFileError> error =
      ReadYamlDocuments(content, [&](const YamlDocument& document) {
        Decoder decoder(document, file);
        std::optional<NodeContainer> object = decoder.Decode();
        if (object) result.objects.push_back(std::move(*object));
        if (decoder.foreign()) {
          if (first_foreign.has_value() || result.errors.size() >= kMaxErrors) {
            ++more_foreign;
            return;
          }
          first_foreign = result.errors.size();
        }
        std::stable_sort(decoder.errors().begin(), decoder.errors().end(),
                         [](const ParseError& a, const ParseError& b) {
                           return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                         });
        for (ParseError& e : decoder.errors()) {
          if (result.errors.size() < kMaxErrors) {
            result.errors.push_back(std::move(e));
          } else {
            ++suppressed;
          }
        }
      });
  if (error) {
    // The file cannot be read: drop what its earlier documents gave.
    result.objects.clear();
    result.errors = {
        ParseError{std::string(file), error->line, error->column, "", std::move(error->reason)}};
    return result;
  }
  if (more_foreign > 0 && first_foreign.has_value()) {
    absl::StrAppend(&result.errors[*first_foreign].reason, " (and ", more_foreign,
                    " more documents like it)");
  } else if (more_foreign > 0) {
    suppressed += more_foreign;
  }
  if (suppressed > 0) {
    result.errors.push_back(ParseError{std::string(file), 0, 0, "",
                                       absl::StrCat(suppressed, " more errors not shown")});
  }
  return result;
}

absl::StatusOr<NodeContainer> ParseNodeContainer(absl::string_view content,
                                                 absl::string_view source) {
  auto fail = [&](absl::string_view cause) {
    return absl::InvalidArgumentError(absl::StrCat("parse NodeContainer ", source, ": ", cause));
  };
  ParseResult result = ParseManifests(content, "");
  if (!result.errors.empty()) {
    constexpr size_t kShown = 10;
    std::vector<std::string> shown;
    for (size_t i = 0; i < result.errors.size() && i < kShown; ++i) {
      shown.push_back(result.errors[i].ToString());
    }
    if (result.errors.size() > kShown) {
      shown.push_back(absl::StrCat(result.errors.size() - kShown, " more errors"));
    }
    return fail(absl::StrJoin(shown, "; "));
  }
  if (result.objects.empty()) return fail("no object in input");
  if (result.objects.size() > 1) {
    return fail(absl::StrCat("expected one object, got ", result.objects.size()));
  }
  NodeContainer object = std::move(result.objects.front());
  object.source = std::string(source);
  return object;
}

}  // namespace berth::controller
