#include "hack/unpack_bench.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/snapshot/unpack.h"
#include "runtime/sys/process.h"

namespace berth::bench {
namespace {

using nlohmann::json;

absl::StatusOr<json> ReadJson(const std::string& path) {
  absl::StatusOr<std::string> text = runtime::ReadFile(path, 64 << 20);
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("read ", path, ": not a JSON object"));
  }
  return j;
}

// Typed fields of an object; empty when absent or of another type.
std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
json Obj(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : json::object();
}
json Arr(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : json::array();
}

std::string BlobPath(const std::string& dir, const std::string& digest) {
  size_t colon = digest.find(':');
  return absl::StrCat(dir, "/blobs/", digest.substr(0, colon), "/", digest.substr(colon + 1));
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Writes the decompressed stream of `blob` to `out` and returns its
// sha256 digest.
absl::StatusOr<std::string> Decompress(const std::string& blob, const std::string& out) {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  archive_entry* e;
  if (archive_read_open_filename(a, blob.c_str(), 1 << 17) != ARCHIVE_OK ||
      archive_read_next_header(a, &e) != ARCHIVE_OK) {
    std::string msg = absl::StrCat("decompress ", blob, ": ", archive_error_string(a));
    archive_read_free(a);
    return absl::InvalidArgumentError(msg);
  }
  runtime::UniqueFd fd(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 17);
  la_ssize_t n;
  bool write_ok = fd.valid();
  while ((n = archive_read_data(a, buf.data(), buf.size())) > 0) {
    EVP_DigestUpdate(md, buf.data(), static_cast<size_t>(n));
    write_ok = write_ok && write(fd.get(), buf.data(), static_cast<size_t>(n)) == n;
  }
  std::string err = n < 0 ? archive_error_string(a) : "";
  archive_read_free(a);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  if (n < 0) return absl::DataLossError(absl::StrCat("decompress ", blob, ": ", err));
  if (!write_ok) return absl::InternalError(absl::StrCat("write ", out, " failed"));
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < len; ++i)
    absl::StrAppend(&hex, absl::Hex(digest[i], absl::kZeroPad2));
  return hex;
}

}  // namespace

absl::StatusOr<std::vector<snapshot::LayerBlob>> LayersFromOciLayout(const std::string& dir,
                                                                     const std::string& ref) {
  absl::StatusOr<json> index = ReadJson(dir + "/index.json");
  if (!index.ok()) return index.status();
  const json* desc = nullptr;
  const json manifests = Arr(*index, "manifests");
  for (const json& m : manifests) {
    std::string name = Str(Obj(m, "annotations"), "org.opencontainers.image.ref.name");
    if (ref.empty() || name == ref) {
      desc = &m;
      break;
    }
  }
  if (desc == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("read OCI layout ", dir, ": no manifest for \"", ref, "\""));
  }
  absl::StatusOr<json> manifest = ReadJson(BlobPath(dir, Str(*desc, "digest")));
  if (!manifest.ok()) return manifest.status();
  if (manifest->contains("manifests")) {  // an image index
    const json* pick = nullptr;
    const json entries = Arr(*manifest, "manifests");
    for (const json& m : entries) {
      const json platform = Obj(m, "platform");
      if (pick == nullptr ||
          (Str(platform, "os") == "linux" && Str(platform, "architecture") == "amd64")) {
        pick = &m;
      }
    }
    if (pick == nullptr) return absl::InvalidArgumentError("read OCI layout: empty image index");
    manifest = ReadJson(BlobPath(dir, Str(*pick, "digest")));
    if (!manifest.ok()) return manifest.status();
  }
  absl::StatusOr<json> config = ReadJson(BlobPath(dir, Str(Obj(*manifest, "config"), "digest")));
  if (!config.ok()) return config.status();
  const json diff_ids = Arr(Obj(*config, "rootfs"), "diff_ids");
  const json layers = Arr(*manifest, "layers");
  if (diff_ids.size() != layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("read OCI layout ", dir, ": ", layers.size(),
                                                   " layers but ", diff_ids.size(), " diff_ids"));
  }
  std::vector<snapshot::LayerBlob> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    snapshot::LayerBlob l;
    l.digest = Str(layers[i], "digest");
    l.media_type = Str(layers[i], "mediaType");
    l.diff_id = diff_ids[i].is_string() ? diff_ids[i].get<std::string>() : "";
    l.path = BlobPath(dir, l.digest);
    out.push_back(std::move(l));
  }
  return out;
}

absl::StatusOr<std::vector<snapshot::LayerBlob>> LayersFromBlobs(
    const std::vector<std::string>& paths, const std::string& scratch_dir) {
  if (absl::Status s = runtime::MakeDirs(scratch_dir); !s.ok()) return s;
  std::vector<snapshot::LayerBlob> out;
  for (const std::string& p : paths) {
    absl::StatusOr<std::string> diff_id = Decompress(p, scratch_dir + "/probe.tar");
    if (!diff_id.ok()) return diff_id.status();
    out.push_back({"", "", *diff_id, p});
  }
  unlink((scratch_dir + "/probe.tar").c_str());
  return out;
}

absl::StatusOr<UnpackBenchResult> BenchUnpack(const std::vector<snapshot::LayerBlob>& layers,
                                              const std::string& scratch_dir, int rounds) {
  if (absl::Status s = runtime::MakeDirs(scratch_dir); !s.ok()) return s;
  UnpackBenchResult r;
  r.layers = static_cast<int>(layers.size());
  std::vector<snapshot::LayerBlob> plain;
  for (size_t i = 0; i < layers.size(); ++i) {
    snapshot::LayerBlob p = layers[i];
    p.path = absl::StrCat(scratch_dir, "/layer", i, ".tar");
    p.media_type = snapshot::kMediaTypeOciLayer;
    absl::StatusOr<std::string> digest = Decompress(layers[i].path, p.path);
    if (!digest.ok()) return digest.status();
    if (*digest != layers[i].diff_id) {
      return absl::DataLossError(absl::StrCat("bench unpack: layer ", layers[i].path, " has diff ",
                                              *digest, ", not ", layers[i].diff_id));
    }
    r.blob_bytes += FileSize(layers[i].path);
    r.tar_bytes += FileSize(p.path);
    plain.push_back(std::move(p));
  }
  const double inf = std::numeric_limits<double>::infinity();
  r.berth_compressed_s = r.berth_plain_s = r.tar_plain_s = inf;
  for (int round = 0; round < rounds; ++round) {
    for (int method = 0; method < 3; ++method) {
      const std::string out = absl::StrCat(scratch_dir, "/out");
      if (absl::Status s = runtime::RemoveTree(out); !s.ok()) return s;
      const absl::Time begin = absl::Now();
      for (size_t i = 0; i < layers.size(); ++i) {
        const std::string target = absl::StrCat(out, "/", i);
        if (method == 2) {
          if (absl::Status s = runtime::MakeDirs(target); !s.ok()) return s;
          absl::Status s = runtime::RunCommandOk({"/usr/bin/tar", "-x", "-p", "--same-owner",
                                                  "--xattrs", "-f", plain[i].path, "-C", target},
                                                 absl::Minutes(30));
          if (!s.ok()) return absl::InternalError(absl::StrCat("bench unpack: tar: ", s.message()));
          continue;
        }
        const snapshot::LayerBlob& l = method == 0 ? layers[i] : plain[i];
        absl::StatusOr<snapshot::UnpackStats> st =
            snapshot::UnpackLayer(l.path, l.media_type, l.diff_id, target);
        if (!st.ok()) return st.status();
      }
      const double s = absl::ToDoubleSeconds(absl::Now() - begin);
      double& best = method == 0   ? r.berth_compressed_s
                     : method == 1 ? r.berth_plain_s
                                   : r.tar_plain_s;
      best = std::min(best, s);
    }
  }
  if (absl::Status s = runtime::RemoveTree(scratch_dir + "/out"); !s.ok()) return s;
  for (const auto& p : plain) unlink(p.path.c_str());
  return r;
}

}  // namespace berth::bench
