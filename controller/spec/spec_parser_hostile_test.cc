#include "controller/spec/spec_parser.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "controller/spec/quantity.h"
#include "controller/spec/testing/spec_parser_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using test_util::ReadFile;
using test_util::TestdataPath;
using test_util::WithSpec;

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// A valid document whose spec gets `spec_extra` (indented by two spaces).
// ---- Hostile input ----

TEST(SpecParserHostileTest, TenMegabyteFileIsRefusedUnparsed) {
  std::string huge = WithSpec("  args:\n");
  while (huge.size() < (10 << 20)) huge += "  - \"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n";
  const auto start = std::chrono::steady_clock::now();
  ParseResult result = ParseManifests(huge, "big.yaml");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_THAT(result.objects, IsEmpty());
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0].ToString(), StartsWith("big.yaml: file larger than 1 MiB ("));
  EXPECT_THAT(Message(ParseNodeContainer(huge, "api").status()),
              HasSubstr("file larger than 1 MiB"));
}

TEST(SpecParserHostileTest, ExactlyOneMebibyteIsStillParsed) {
  std::string content = WithSpec("");
  content += "# " + std::string(kMaxManifestBytes - content.size() - 3, 'x');
  content += "\n";
  ASSERT_EQ(content.size(), kMaxManifestBytes);
  // The size check itself lets it through.
  ParseResult result = ParseManifests(content, "f");
  for (const ParseError& e : result.errors) {
    EXPECT_THAT(e.reason, Not(HasSubstr("larger than 1 MiB")));
  }
}

TEST(SpecParserHostileTest, DeepNestingIsBounded) {
  const std::vector<std::string> inputs = {
      std::string(100000, '[') + std::string(100000, ']'),
      std::string(15000, '['),
      std::string(15000, '{'),
      WithSpec("  command: " + std::string(10000, '[')),
      [] {
        std::string s;
        for (int i = 0; i < 100000; ++i) s += "- ";
        return s + "x\n";
      }(),
      [] {
        std::string s;
        for (int i = 0; i < 1000; ++i) s += std::string(i, ' ') + "a:\n";
        return s;
      }(),
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input.substr(0, 20));
    ParseResult result = ParseManifests(input, "deep.yaml");
    EXPECT_THAT(result.objects, IsEmpty());
    ASSERT_THAT(result.errors, SizeIs(1));
    EXPECT_THAT(result.errors[0].reason,
                testing::AnyOf(HasSubstr("nested deeper than 64"),
                               HasSubstr("more than 20000 '[', '{' and ','")));
  }
}

TEST(SpecParserHostileTest, HugeFlowCollectionsAndScalarsAreBounded) {
  // The parser streams a flow collection (it looks ahead at most 1024
  // characters), so neither of these is held as a queue of tokens; each
  // fails at its first problem, with a position.
  std::string quoted = "[";
  for (int i = 0; i < 200000; ++i) quoted += "'a' ";
  std::string colons = "[";
  for (int i = 0; i < 400000; ++i) colons += ": ";
  for (std::string* input : {&quoted, &colons}) {
    ParseResult result = ParseManifests(*input, "flow.yaml");
    EXPECT_THAT(result.objects, IsEmpty());
    ASSERT_THAT(result.errors, SizeIs(1));
    EXPECT_THAT(result.errors[0].reason, StartsWith("invalid YAML: did not find expected"));
    EXPECT_GT(result.errors[0].line, 0);
  }
  // A scalar is read whole; the file size caps it.
  const std::string scalar = "a: \"" + std::string(900000, 'x') + "\"\n";
  ParseResult result = ParseManifests(scalar, "scalar.yaml");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_EQ(result.errors[0].ToString(),
            "scalar.yaml:1:1: expected a NodeContainer, got a mapping without apiVersion, kind, "
            "metadata or spec");
}

TEST(SpecParserHostileTest, NodeCountIsBounded) {
  std::string many = WithSpec("  args:\n");
  for (int i = 0; i < 20000; ++i) many += "  - a\n";
  ParseResult result = ParseManifests(many, "many.yaml");
  EXPECT_THAT(result.objects, IsEmpty());
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0].reason, HasSubstr("more than 10000 YAML nodes"));
}

TEST(SpecParserHostileTest, ErrorCountIsBounded) {
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "kind: X\n---\n";
  ParseResult result = ParseManifests(many, "many.yaml");
  EXPECT_LE(result.errors.size(), 101u);
  EXPECT_THAT(result.errors.back().reason, HasSubstr("more errors not shown"));
}

// Files that are not manifests at all, as someone might link them into the
// manifests directory, and pieces of them that must not show in errors.
struct OtherFile {
  std::string name;
  std::string content;
  std::vector<std::string> secrets;
};

std::vector<OtherFile> OtherFiles() {
  return {
      {"shadow",
       "root:$6$Qx7vP2mW$T1s9Kd0uZ8bYp3LrVf6NcEa4HgJw5XiOq2MnBy7Rt1Us0Vk9Lz3P"
       "a8Dc6Fe4Gh2Jk1Wm5Xn:19000:0:99999:7:::\n"
       "daemon:*:19000:0:99999:7:::\n"
       "alice:$y$j9T$Fh3Ks8Lq2Wn6Pb1Vz$Gx0Rc5Tm7Yd9Ue4Ji2Oa8Se6Dk3Fl1Hq5Zw9Xv7Nb"
       "4:19500:0:99999:7:::\n",
       {"root", "daemon", "alice", "Qx7vP2mW", "T1s9Kd0u", "Dc6Fe4Gh", "j9T", "Fh3Ks8Lq",
        "Gx0Rc5Tm"}},
      {"passwd",
       "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice "
       "Liddell:/home/alice:/bin/sh\n",
       {"root", "alice", "Liddell", "bash"}},
      {"dotenv",
       "DB_PASSWORD=hunter2-Zk81\nAPI_TOKEN=tok_9f8e7d6c5b4a\n",
       {"DB_PASS", "hunter2", "API_TOK", "9f8e7d"}},
      {"yaml secrets",
       "db_password: hunter2-Zk81\napi_token: tok_9f8e7d6c5b4a\n"
       "nested: {key: Yq2Lp0sW}\n",
       {"db_pass", "hunter2", "api_tok", "9f8e7d", "nested", "Yq2Lp0sW"}},
      {"several documents",
       "user: alice\npassword: Wr0ngH0rse\n---\nuser: bob\n"
       "password: B4tt3ryStaple\n---\n- Cr4zyList\n---\nPl4inScalar\n",
       {"alice", "Wr0ngH0rse", "bob", "B4tt3ry", "Cr4zy", "Pl4in", "password"}},
  };
}

TEST(SpecParserHostileTest, OtherFilesGetOneErrorQuotingNothingOfThem) {
  for (const OtherFile& file : OtherFiles()) {
    SCOPED_TRACE(file.name);
    ParseResult result = ParseManifests(file.content, "m.yaml");
    EXPECT_THAT(result.objects, IsEmpty());
    ASSERT_THAT(result.errors, SizeIs(1));
    const std::string error = result.errors[0].ToString();
    EXPECT_THAT(error, StartsWith("m.yaml:1:1: expected a"));
    for (const std::string& secret : file.secrets) {
      EXPECT_THAT(error, Not(HasSubstr(secret)));
    }
    absl::StatusOr<NodeContainer> api = ParseNodeContainer(file.content, "api");
    ASSERT_FALSE(api.ok());
    for (const std::string& secret : file.secrets) {
      EXPECT_THAT(Message(api.status()), Not(HasSubstr(secret)));
    }
  }
}

TEST(SpecParserHostileTest, QuotedKeysAndValuesAreShortAndEscaped) {
  const std::string tail = "TAILSECRET";
  const std::string long_key = std::string(40, 'k') + tail;
  const std::string long_number = std::string(70, '7') + "1234567";
  const std::vector<std::string> inputs = {
      WithSpec("  " + long_key + ": 1\n"),
      WithSpec("  \"" + long_key + "\": 1\n"),
      WithSpec("  \"\\e[31m\\u0085\\t" + long_key + "\": 1\n"),
      WithSpec("  args: [" + long_number + "]\n"),
      WithSpec("  args: [" + long_number + ".5]\n"),
      WithSpec("  stopSignal: " + long_number + ".5\n"),
      WithSpec("  stopSignal: " + long_number + "\n"),
      WithSpec("  terminationGracePeriodSeconds: " + long_number + "\n"),
      WithSpec("  terminationGracePeriodSeconds: -" + long_number + "\n"),
      WithSpec("  terminationGracePeriodSeconds: " + std::string(60, '1') + "1234567\n"),
      WithSpec("  image: \"a\\tb" + std::string(80, 'x') + tail + "\"\n"),
      WithSpec("  nodeSelector: {" + long_key + ": 1}\n"),
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n"
      "  name: web\n  labels: {\"a/" +
          long_key + long_key +
          "\": x}\n"
          "spec: {image: busybox}\n",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input);
    ParseResult result = ParseManifests(input, "m.yaml");
    EXPECT_THAT(result.objects, IsEmpty());
    ASSERT_THAT(result.errors, Not(IsEmpty()));
    for (const ParseError& e : result.errors) {
      const std::string text = e.ToString();
      EXPECT_THAT(text, Not(HasSubstr(tail)));
      EXPECT_THAT(text, Not(HasSubstr("1234567")));
      // Short but for the list of accepted fields, which is ours.
      const std::string own = text.substr(0, text.find(" (accepted: "));
      EXPECT_LT(own.size(), 300u) << text;
      for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        EXPECT_TRUE(byte >= 0x20 && byte < 0x7f) << text;
      }
    }
  }
}

TEST(SpecParserHostileTest, StrayTopLevelCommaDoesNotLoopForever) {
  // Some YAML parsers (yaml-cpp 0.7) yield empty documents at "," forever.
  ParseResult result = ParseManifests("{a: 1},", "comma.yaml");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_EQ(result.errors[0].ToString(),
            "comma.yaml:1:7: invalid YAML: did not find expected <document start>");
}

TEST(SpecParserHostileTest, PrefixesAndMutationsNeverCrash) {
  const std::string full = ReadFile(TestdataPath("good/full.yaml"));
  const std::string json = ReadFile(TestdataPath("good/api.json"));
  for (const std::string* base : {&full, &json}) {
    for (size_t n = 0; n <= base->size(); ++n) {
      ParseResult result = ParseManifests(base->substr(0, n), "prefix");
      for (const ParseError& e : result.errors) EXPECT_FALSE(e.reason.empty());
    }
  }
  // Random byte edits, favouring YAML's structural characters.
  std::mt19937 rng(20240501);
  const std::string alphabet = "[]{}:,-?&*!|>'\"#% \n\t\\0aZ9.~@`";
  for (int i = 0; i < 3000; ++i) {
    std::string input = i % 2 ? full : json;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits; ++k) {
      const size_t pos = rng() % input.size();
      switch (rng() % 4) {
        case 0: input[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: input.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: input.erase(pos, 1 + rng() % 16); break;
        default: input[pos] = static_cast<char>(rng() % 256); break;
      }
      if (input.empty()) input = "x";
    }
    ParseResult result = ParseManifests(input, "fuzz");
    for (const ParseError& e : result.errors) {
      EXPECT_EQ(e.file, "fuzz");
      EXPECT_FALSE(e.reason.empty());
    }
  }
}

// ---- Quantities ----

TEST(QuantityTest, CpuMillis) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"500m", 500},    {"1.5", 1500},    {"2", 2000},
      {"0", 0},         {"0.1", 100},     {".5", 500},
      {"1.", 1000},     {"+1", 1000},     {"0.000", 0},
      {"1k", 1000000},  {"250000u", 250}, {"1n", 1},
      {"0.0001", 1},    {"1e-3", 1},      {"1e3", 1000000},
      {"1E3", 1000000}, {"100m", 100},    {"0.0005", 1},
      {"1Ki", 1024000}, {"00002", 2000},  {"1.000000000000000000000", 1000},
  };
  for (const auto& [text, millis] : cases) {
    absl::StatusOr<int64_t> got = ParseCpuMillis(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, millis) << text;
  }
}

TEST(QuantityTest, Bytes) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"64Mi", 64ll << 20},
      {"1G", 1000000000},
      {"1e3", 1000},
      {"1024", 1024},
      {"1Ki", 1024},
      {"1.5Gi", 3ll << 29},
      {"0.5", 1},  // rounded up
      {"100m", 1},
      {"1k", 1000},
      {"1M", 1000000},
      {"2T", 2000000000000},
      {"1P", 1000000000000000},
      {"1E", 1000000000000000000},
      {"7Ei", 7ll << 60},
      {"9223372036854775807", INT64_MAX},
      {"10000000000000000000e-1", 1000000000000000000},
      {"0.000000000000000000000000000000000000000001", 1},
      {"0", 0},
  };
  for (const auto& [text, bytes] : cases) {
    absl::StatusOr<int64_t> got = ParseBytes(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, bytes) << text;
  }
}

TEST(QuantityTest, RejectsWithAClearReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty quantity"},
      {"-1", "must not be negative"},
      {"-0.5Mi", "must not be negative"},
      {"-0", "must not be negative"},
      {"64MB", "unknown suffix \"MB\""},
      {"1 Mi", "unknown suffix \" Mi\""},
      {"1mi", "unknown suffix \"mi\""},
      {"Mi", "expected a number"},
      {"abc", "expected a number"},
      {".", "expected a number"},
      {"1.2.3", "unknown suffix \".3\""},
      {"1e", "unknown suffix \"e\""},
      {"1e+", "unknown suffix \"e+\""},
      {"0x10", "unknown suffix \"x10\""},
      {"8Ei", "too large"},
      {"9223372036854775808", "too large"},
      {"1e19", "too large"},
      {"1e999999999999", "too large"},
      {"12345678901234567890", "too large"},
      {"1234567890.1234567891", "more than 19 significant digits"},
      {std::string(100, '1'), "longer than 64 characters"},
      {std::string("1\0", 2), "unknown suffix"},
  };
  for (const auto& [text, reason] : cases) {
    absl::StatusOr<int64_t> got = ParseBytes(text);
    ASSERT_FALSE(got.ok()) << text << " -> " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(got.status()), StartsWith("parse quantity \""));
    EXPECT_THAT(Message(got.status()), HasSubstr(reason)) << text;
  }
  EXPECT_THAT(Message(ParseCpuMillis("1e16").status()),
              HasSubstr("too large (more than 9223372036854775807 millicores)"));
  EXPECT_TRUE(ParseBytes("1e16").ok());
}

}  // namespace
}  // namespace berth::controller
