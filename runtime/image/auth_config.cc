#include "runtime/image/auth_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::image {
namespace {

// A helper asks a keychain or a cloud's API; docker waits for it, Berth not
// for ever.
constexpr absl::Duration kCredentialHelperTimeout = absl::Seconds(30);

}  // namespace

std::string AuthKeyForDomain(const std::string& domain) {
  return domain == "docker.io" ? "https://index.docker.io/v1/" : domain;
}

std::string DomainForAuthKey(absl::string_view key) {
  absl::string_view k = absl::StripAsciiWhitespace(key);
  if (!absl::ConsumePrefix(&k, "https://")) absl::ConsumePrefix(&k, "http://");
  if (size_t slash = k.find('/'); slash != absl::string_view::npos) k = k.substr(0, slash);
  std::string host = absl::AsciiStrToLower(k);
  if (host == "index.docker.io" || host == "registry-1.docker.io" || host == "docker.io") {
    return "docker.io";
  }
  return std::string(k);
}

absl::StatusOr<DockerAuthConfig> DockerAuthConfig::Parse(absl::string_view config_json) {
  nlohmann::json j = nlohmann::json::parse(config_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("parse docker config: not a JSON object");
  }
  DockerAuthConfig out;
  // Helper names become program names: letters, digits, '-', '_' and '.'.
  auto helper_name = [](const nlohmann::json& v,
                        const std::string& what) -> absl::StatusOr<std::string> {
    if (!v.is_string())
      return absl::InvalidArgumentError(
          absl::StrCat("parse docker config: ", what, ": not a string"));
    const std::string name = v.get<std::string>();
    bool ok = !name.empty() && name.size() <= 64 && name[0] != '.';
    for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.');
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("parse docker config: ", what, ": \"", name, "\" is not a helper name"));
    }
    return name;
  };
  if (auto store = j.find("credsStore");
      store != j.end() && !(store->is_string() && store->get<std::string>().empty())) {
    absl::StatusOr<std::string> name = helper_name(*store, "credsStore");
    if (!name.ok()) return name.status();
    out.store_ = *name;
  }
  if (auto helpers = j.find("credHelpers"); helpers != j.end()) {
    if (!helpers->is_object())
      return absl::InvalidArgumentError("parse docker config: bad \"credHelpers\"");
    for (auto it = helpers->begin(); it != helpers->end(); ++it) {
      absl::StatusOr<std::string> name =
          helper_name(it.value(), absl::StrCat("credHelpers \"", it.key(), "\""));
      if (!name.ok()) return name.status();
      out.helpers_[DomainForAuthKey(it.key())] = *name;
    }
  }
  auto auths = j.find("auths");
  if (auths == j.end()) return out;
  if (!auths->is_object()) return absl::InvalidArgumentError("parse docker config: bad \"auths\"");
  for (auto it = auths->begin(); it != auths->end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& e = it.value();
    if (!e.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parse docker config: auths entry \"", key, "\": not an object"));
    }
    Credentials c;
    auto str = [&](const char* k) {
      auto f = e.find(k);
      return f != e.end() && f->is_string() ? f->get<std::string>() : std::string();
    };
    std::string auth = str("auth");
    if (!auth.empty()) {
      std::string decoded;
      if (!absl::Base64Unescape(auth, &decoded)) {
        return absl::InvalidArgumentError(
            absl::StrCat("parse docker config: auths entry \"", key, "\": bad base64 in auth"));
      }
      size_t colon = decoded.find(':');
      if (colon == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("parse docker config: auths entry \"", key,
                                                       "\": auth is not user:password"));
      }
      c.username = decoded.substr(0, colon);
      c.password = decoded.substr(colon + 1);
    } else {
      c.username = str("username");
      c.password = str("password");
    }
    if (c.username.empty() && c.password.empty()) continue;  // e.g. credsStore entries
    out.by_domain_[DomainForAuthKey(key)] = c;
  }
  return out;
}

absl::StatusOr<DockerAuthConfig> DockerAuthConfig::Load(const std::string& path) {
  absl::StatusOr<std::string> data = runtime::ReadFile(path, 4 << 20);
  if (!data.ok()) {
    if (absl::IsNotFound(data.status())) return DockerAuthConfig();
    return absl::Status(data.status().code(),
                        absl::StrCat("load docker config ", path, ": ", data.status().message()));
  }
  absl::StatusOr<DockerAuthConfig> c = Parse(*data);
  if (!c.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("load docker config ", path, ": ", c.status().message()));
  }
  return c;
}

std::optional<Credentials> DockerAuthConfig::Lookup(const std::string& domain) const {
  auto it = by_domain_.find(DomainForAuthKey(domain));
  if (it == by_domain_.end()) return std::nullopt;
  return it->second;
}

void DockerAuthConfig::Set(const std::string& domain, Credentials credentials) {
  by_domain_[DomainForAuthKey(domain)] = std::move(credentials);
}

std::string DockerAuthConfig::HelperFor(const std::string& domain) const {
  auto it = helpers_.find(DomainForAuthKey(domain));
  return it != helpers_.end() ? it->second : store_;
}

absl::StatusOr<std::optional<Credentials>> DockerAuthConfig::Find(const std::string& domain) const {
  const std::string helper = HelperFor(domain);
  if (helper.empty()) return Lookup(domain);
  absl::StatusOr<std::optional<Credentials>> c = CredentialsFromHelper(helper, domain);
  if (absl::IsNotFound(c.status())) {
    // A config copied from a desktop ("credsStore": "desktop") should not
    // stop pulls where that program does not exist.
    spdlog::warn("{}; using the config's \"auths\"", std::string(c.status().message()));
    return Lookup(domain);
  }
  return c;
}

absl::StatusOr<std::optional<Credentials>> CredentialsFromHelper(const std::string& helper,
                                                                 const std::string& domain) {
  const std::string program = "docker-credential-" + helper;
  const std::string what = absl::StrCat("credential helper ", program, " for ", domain);
  const std::string path = runtime::FindExecutable(program);
  if (path.empty()) return absl::NotFoundError(absl::StrCat(what, ": not found on PATH"));
  absl::StatusOr<runtime::CommandResult> r =
      runtime::RunCommand({path, "get"}, kCredentialHelperTimeout, AuthKeyForDomain(domain) + "\n");
  if (!r.ok()) return absl::UnavailableError(absl::StrCat(what, ": ", r.status().message()));
  return ParseCredentialHelperAnswer(what, r->exit_code, r->output);
}

absl::StatusOr<std::optional<Credentials>> ParseCredentialHelperAnswer(absl::string_view what,
                                                                       int exit_code,
                                                                       absl::string_view answer) {
  const std::string output(absl::StripAsciiWhitespace(answer));
  if (exit_code != 0) {
    // docker-credential-helpers' own words for "nothing stored".
    if (absl::StrContains(output, "credentials not found")) return std::nullopt;
    return absl::UnavailableError(
        absl::StrCat(what, ": exit status ", exit_code, ": ", output.substr(0, 512)));
  }
  nlohmann::json j = nlohmann::json::parse(output, nullptr, false);
  if (!j.is_object() || !j.contains("Username") || !j["Username"].is_string() ||
      !j.contains("Secret") || !j["Secret"].is_string()) {
    return absl::UnavailableError(
        absl::StrCat(what, ": expected {\"Username\":..., \"Secret\":...}, got \"",
                     output.substr(0, 64), output.size() > 64 ? "..." : "", "\""));
  }
  Credentials c{j["Username"].get<std::string>(), j["Secret"].get<std::string>()};
  if (c.username == "<token>") {
    return absl::UnavailableError(absl::StrCat(
        what,
        ": it answers with an identity token (OAuth refresh token), which Berth does not "
        "support; store a user name and password or token instead"));
  }
  if (c.username.empty() && c.password.empty()) return std::nullopt;
  return c;
}

absl::StatusOr<std::vector<AuthChallenge>> ParseAuthChallenges(absl::string_view header) {
  std::vector<AuthChallenge> out;
  size_t i = 0;
  const size_t n = header.size();
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("parse WWW-Authenticate \"", header, "\": ", why));
  };
  auto skip_space = [&] {
    while (i < n && (header[i] == ' ' || header[i] == '\t')) ++i;
  };
  auto token = [&]() {
    size_t start = i;
    while (i < n && header[i] != ' ' && header[i] != '\t' && header[i] != ',' && header[i] != '=') {
      ++i;
    }
    return std::string(header.substr(start, i - start));
  };
  while (true) {
    skip_space();
    while (i < n && header[i] == ',') {
      ++i;
      skip_space();
    }
    if (i >= n) break;
    AuthChallenge c;
    c.scheme = absl::AsciiStrToLower(token());
    if (c.scheme.empty()) return bad("missing scheme");
    // Parameters: key=value pairs separated by commas, until a token that
    // is not followed by '=' (the next challenge's scheme).
    while (true) {
      skip_space();
      size_t save = i;
      std::string key = token();
      skip_space();
      if (key.empty() || i >= n || header[i] != '=') {
        i = save;
        break;
      }
      ++i;  // '='
      skip_space();
      std::string value;
      if (i < n && header[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          char ch = header[i++];
          if (ch == '\\' && i < n) {
            value.push_back(header[i++]);
          } else if (ch == '"') {
            closed = true;
            break;
          } else {
            value.push_back(ch);
          }
        }
        if (!closed) return bad("unterminated quoted string");
      } else {
        value = token();
      }
      c.params[absl::AsciiStrToLower(key)] = value;
      skip_space();
      if (i < n && header[i] == ',') ++i;
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) return bad("no challenge");
  return out;
}

}  // namespace berth::image
