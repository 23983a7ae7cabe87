#include "controller/berthctl/printers.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace berth::berthctl {
namespace {

TEST(FormatAgeTest, AsKubectlsHumanDuration) {
  EXPECT_EQ(FormatAge(absl::Seconds(-5)), "<invalid>");
  EXPECT_EQ(FormatAge(absl::Milliseconds(-500)), "0s");
  EXPECT_EQ(FormatAge(absl::Seconds(5)), "5s");
  EXPECT_EQ(FormatAge(absl::Seconds(119)), "119s");
  EXPECT_EQ(FormatAge(absl::Seconds(200)), "3m20s");
  EXPECT_EQ(FormatAge(absl::Minutes(5)), "5m");
  EXPECT_EQ(FormatAge(absl::Minutes(15) + absl::Seconds(7)), "15m");
  EXPECT_EQ(FormatAge(absl::Hours(5) + absl::Minutes(10)), "5h10m");
  EXPECT_EQ(FormatAge(absl::Hours(3)), "3h");
  EXPECT_EQ(FormatAge(absl::Hours(20)), "20h");
  EXPECT_EQ(FormatAge(absl::Hours(53)), "2d5h");
  EXPECT_EQ(FormatAge(absl::Hours(72)), "3d");
  EXPECT_EQ(FormatAge(absl::Hours(24 * 30)), "30d");
  EXPECT_EQ(FormatAge(absl::Hours(24 * (365 * 3 + 4))), "3y4d");
  EXPECT_EQ(FormatAge(absl::Hours(24 * 365 * 9)), "9y");
  google::protobuf::Timestamp unset;
  EXPECT_EQ(AgeOf(unset, absl::Now()), "<unknown>");
}

TEST(TableTest, AlignsAsKubectl) {
  Table t({"NAME", "IMAGE", "AGE"});
  t.Add({"web", "busybox", "5s"});
  t.Add({"a-much-longer-name", "b", "3m20s"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(),
            "NAME                 IMAGE     AGE\n"
            "web                  busybox   5s\n"
            "a-much-longer-name   b         3m20s\n");
  // Later rows keep the widths.
  t.Add({"x", "y", "1s"});
  std::ostringstream more;
  t.Print(more, false);
  EXPECT_EQ(more.str(), "x                    y         1s\n");
}

TEST(ToYamlTest, ReadsBackAsTheSameTree) {
  v1::Container c;
  c.set_name("web");
  c.set_namespace_("default");
  (*c.mutable_labels())["app"] = "web";
  (*c.mutable_labels())["example.com/x"] = "yes";
  c.set_spec_yaml("image: busybox\ncommand:\n- sh\n- -c\n- echo hi\n");
  c.mutable_status()->set_phase("Running");
  c.mutable_status()->set_restart_count(3);
  c.mutable_created_at()->set_seconds(1700000000);
  nlohmann::json list = ListJson({ToJson(c), ToJson(c)}, 7);
  const std::string yaml = ToYaml(list);
  YAML::Node n = YAML::Load(yaml);
  EXPECT_EQ(n["kind"].as<std::string>(), "List");
  EXPECT_EQ(n["metadata"]["revision"].as<std::string>(), "7");
  ASSERT_EQ(n["items"].size(), 2u);
  EXPECT_EQ(n["items"][1]["name"].as<std::string>(), "web");
  EXPECT_EQ(n["items"][0]["labels"]["example.com/x"].as<std::string>(), "yes");
  EXPECT_EQ(n["items"][0]["specYaml"].as<std::string>(), c.spec_yaml());
  EXPECT_EQ(n["items"][0]["status"]["restartCount"].as<int>(), 3);
  EXPECT_EQ(n["items"][0]["status"]["phase"].as<std::string>(), "Running");
  EXPECT_EQ(n["items"][0]["createdAt"].as<std::string>(), "2023-11-14T22:13:20Z");
  EXPECT_THAT(yaml, ::testing::HasSubstr("specYaml: |\n"));
  // Every scalar is present, zero or not.
  EXPECT_EQ(list["items"][0]["status"]["pid"], 0);
  EXPECT_EQ(list["items"][0]["image"], "");
}

}  // namespace
}  // namespace berth::berthctl
