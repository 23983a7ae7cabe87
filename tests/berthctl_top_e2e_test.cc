// berthctl top and the Stats RPC end to end: real containers' cgroups read
// by berthd, CPU as a rate between two samples, memory as the working set.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/berthctl_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Manifest(const std::string& name, const std::string& script) {
  return absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ",
                      name, "\nspec:\n  image: busybox\n  command: [\"sh\", \"-c\", ",
                      nlohmann::json(script).dump(), "]\n  stopSignal: SIGKILL\n");
}

// The cells of the row of `name` in a top table; empty when there is none.
std::vector<std::string> RowOf(const std::string& table, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (!cells.empty() && cells[0] == name) return cells;
  }
  return {};
}

int Number(const std::string& cell) { return std::atoi(cell.c_str()); }

using BerthctlTopE2eTest = BerthctlE2eTest;

TEST_F(BerthctlTopE2eTest, TopShowsWhatTheCgroupsSay) {
  StartBerthd();
  // A busy loop; a shell holding ~24 MiB in a variable (and a sleep); an idle
  // one.
  Write("burner.yaml", Manifest("burner", "while true; do :; done"));
  Write("holder.yaml",
        Manifest("holder",
                 "x=$(head -c 25000000 /dev/zero | tr '\\0' a); while true; do sleep 1; done"));
  Write("idle.yaml", Manifest("idle", "exec sleep 100000"));
  for (const char* id : {"default.burner", "default.holder", "default.idle"}) {
    nlohmann::json s = WaitStatusFile(world_.berth_state_dir(), id, IsRunning, kWait);
    ASSERT_TRUE(IsRunning(s)) << id << ": " << s.dump();
  }
  // The holder's variable is filled some moments after it starts.
  runtime::CommandResult r;
  ASSERT_TRUE(WaitFor(
      [&] {
        r = Berthctl({"top"});
        std::vector<std::string> holder = RowOf(r.output, "holder");
        return r.exit_code == 0 && holder.size() == 4 && Number(holder[2]) >= 20;
      },
      absl::Seconds(30)))
      << r.output;
  EXPECT_THAT(r.output, HasSubstr("NAME"));
  EXPECT_THAT(r.output, HasSubstr("CPU(cores)"));
  std::vector<std::string> burner = RowOf(r.output, "burner");
  std::vector<std::string> idle = RowOf(r.output, "idle");
  ASSERT_EQ(burner.size(), 4u) << r.output;
  ASSERT_EQ(idle.size(), 4u) << r.output;
  // A busy loop on a shared 2-core machine still gets a good part of a core;
  // sleep gets nothing.
  EXPECT_GE(Number(burner[1]), 150) << r.output;
  EXPECT_LE(Number(idle[1]), 20) << r.output;
  EXPECT_GE(Number(idle[3]), 1) << r.output;

  // One by name, and in another namespace nothing.
  r = Berthctl({"top", "burner", "--interval=200ms", "--no-headers"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(RowOf(r.output, "burner").size(), 4u) << r.output;
  EXPECT_EQ(RowOf(r.output, "idle").size(), 0u) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("NAME")));
  r = Berthctl({"top", "-n", "other"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("No resources found in other namespace."));
  r = Berthctl({"top", "-A"});
  EXPECT_THAT(r.output, HasSubstr("NAMESPACE"));
  EXPECT_EQ(RowOf(r.output, "default").size(), 5u) << r.output;

  // Unknown, and not running.
  r = Berthctl({"top", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("Error from server (NotFound)"));
  Write("done.yaml", absl::StrCat(Manifest("done", "exit 0"), "  restartPolicy: Never\n"));
  WaitStatusFile(
      world_.berth_state_dir(), "default.done",
      [](const nlohmann::json& s) { return s.value("phase", "") == "Succeeded"; }, kWait);
  r = Berthctl({"top", "done"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("is not running (Succeeded)"));
}

}  // namespace
}  // namespace berth::testing
