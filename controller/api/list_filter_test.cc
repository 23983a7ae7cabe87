#include "controller/api/list_filter.h"

#include "gtest/gtest.h"

namespace berth::api {
namespace {

v1::Container Make(const std::string& ns, const std::string& phase, const std::string& kind,
                   std::map<std::string, std::string> labels) {
  v1::Container c;
  c.set_namespace_(ns);
  c.set_name("x");
  c.mutable_status()->set_phase(phase);
  c.mutable_source()->set_kind(kind);
  c.mutable_labels()->insert(labels.begin(), labels.end());
  return c;
}

bool Matches(const v1::ListFilter& f, const v1::Container& c) {
  absl::StatusOr<ContainerFilter> filter = ContainerFilter::Make(f);
  EXPECT_TRUE(filter.ok()) << filter.status();
  return filter.ok() && filter->Matches(c);
}

TEST(ContainerFilterTest, EveryFieldNarrows) {
  const v1::Container web = Make("prod", "Running", "file", {{"app", "web"}});
  v1::ListFilter f;
  EXPECT_TRUE(Matches(f, web));
  f.set_namespace_("prod");
  EXPECT_TRUE(Matches(f, web));
  f.set_namespace_("default");
  EXPECT_FALSE(Matches(f, web));
  f.Clear();
  f.set_phase("Running");
  EXPECT_TRUE(Matches(f, web));
  f.set_phase("Pending");
  EXPECT_FALSE(Matches(f, web));
  f.Clear();
  f.set_source("file");
  EXPECT_TRUE(Matches(f, web));
  f.set_source("api");
  EXPECT_FALSE(Matches(f, web));
  f.Clear();
  f.set_label_selector("app in (web,db),!canary");
  EXPECT_TRUE(Matches(f, web));
  f.set_namespace_("prod");
  f.set_phase("Running");
  EXPECT_TRUE(Matches(f, web));
  f.set_label_selector("app=db");
  EXPECT_FALSE(Matches(f, web));
}

TEST(ContainerFilterTest, RefusesBadSelectorsAndSources) {
  v1::ListFilter f;
  f.set_label_selector("app in (web");
  EXPECT_EQ(ContainerFilter::Make(f).status().code(), absl::StatusCode::kInvalidArgument);
  f.Clear();
  f.set_source("kubelet");
  EXPECT_EQ(ContainerFilter::Make(f).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::api
