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
#include "controller/spec/field_reader.h"
#include "controller/spec/quantity.h"
#include "controller/spec/spec_network.h"
#include "controller/spec/spec_probes.h"
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

// ---- Decoding one document into a NodeContainer. ----

class Decoder : public FieldReader {
 public:
  using FieldReader::FieldReader;

  // Returns the object if the document has no errors; see errors().
  std::optional<NodeContainer> Decode();
  // The document is not an object at all (not a mapping, or a mapping with
  // none of an object's top-level fields); errors() has one error saying so.
  bool foreign() const { return foreign_; }

 private:
  void DecodeMetadata(const Fields& m, ObjectMeta* meta);
  void DecodeSpec(const Fields& s, NodeContainerSpec* spec);
  void DecodeEnv(const Fields& s, std::vector<EnvVar>* env);
  void DecodeMounts(const Fields& s, std::vector<Mount>* mounts);
  void DecodePullSecrets(const Fields& s, std::vector<std::string>* names);

  bool foreign_ = false;
};

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
    // Probes and hooks last: they name the spec's ports and grace period.
    const Fields spec = Sub(top, "spec",
                            {"image",
                             "imagePullPolicy",
                             "imagePullSecrets",
                             "command",
                             "args",
                             "env",
                             "workingDir",
                             "user",
                             "resources",
                             "mounts",
                             "restartPolicy",
                             "stopSignal",
                             "terminationGracePeriodSeconds",
                             "nodeName",
                             "nodeSelector",
                             "hostNetwork",
                             "ports",
                             "hostname",
                             "dnsPolicy",
                             "dnsConfig",
                             "hostAliases",
                             "livenessProbe",
                             "readinessProbe",
                             "startupProbe",
                             "lifecycle"});
    DecodeSpec(spec, &object.spec);
    ProbeDecoder probes(doc_, file_);
    probes.Decode(spec, &object.spec);
    errors_.insert(errors_.end(), probes.errors().begin(), probes.errors().end());
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
  DecodeNetworkFields(doc_, file_, s, spec, &errors_);
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
