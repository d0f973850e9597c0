// The task state machine, over every (state, event) pair, and the early-exit rule.
#include "shim/task_state.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <thread>
#include <vector>

namespace runwasi::shim {
namespace {

using S = TaskStatus;
using E = TaskEvent;

constexpr std::array kStatuses = {S::kCreated, S::kRunning, S::kPaused, S::kStopped, S::kDeleted};
constexpr std::array kEvents = {E::kCreate,  E::kStart,  E::kExit,  E::kKill,
                                E::kKillAll, E::kDelete, E::kPause, E::kResume};

struct Row {
  S from;
  E event;
  bool ok;
  S to;                 // when ok
  ErrorCode code;       // when not ok
  std::string message;  // when not ok, the whole message for task "t1"
};

Row allow(S from, E event, S to) {
  return {from, event, true, to, ErrorCode::kUnknown, ""};
}
Row refuse(S from, E event, ErrorCode code, std::string message) {
  return {from, event, false, from, code, std::move(message)};
}

// Every pair, spelled out: the behaviour containerd's runc shim has (see task_state.h).
std::vector<Row> table() {
  constexpr auto kFP = ErrorCode::kFailedPrecondition;
  constexpr auto kNF = ErrorCode::kNotFound;
  constexpr auto kAE = ErrorCode::kAlreadyExists;
  return {
      refuse(S::kCreated, E::kCreate, kAE, "cannot create task t1: it already exists"),
      allow(S::kCreated, E::kStart, S::kRunning),
      allow(S::kCreated, E::kExit, S::kStopped),
      allow(S::kCreated, E::kKill, S::kCreated),
      allow(S::kCreated, E::kKillAll, S::kCreated),
      allow(S::kCreated, E::kDelete, S::kDeleted),
      refuse(S::kCreated, E::kPause, kFP, "cannot pause task t1: it is created"),
      refuse(S::kCreated, E::kResume, kFP, "cannot resume task t1: it is created"),

      refuse(S::kRunning, E::kCreate, kAE, "cannot create task t1: it already exists"),
      refuse(S::kRunning, E::kStart, kFP, "cannot start task t1: it is running"),
      allow(S::kRunning, E::kExit, S::kStopped),
      allow(S::kRunning, E::kKill, S::kRunning),
      allow(S::kRunning, E::kKillAll, S::kRunning),
      refuse(S::kRunning, E::kDelete, kFP, "cannot delete task t1: it is running"),
      allow(S::kRunning, E::kPause, S::kPaused),
      refuse(S::kRunning, E::kResume, kFP, "cannot resume task t1: it is running"),

      refuse(S::kPaused, E::kCreate, kAE, "cannot create task t1: it already exists"),
      refuse(S::kPaused, E::kStart, kFP, "cannot start task t1: it is paused"),
      allow(S::kPaused, E::kExit, S::kStopped),
      allow(S::kPaused, E::kKill, S::kPaused),
      allow(S::kPaused, E::kKillAll, S::kPaused),
      refuse(S::kPaused, E::kDelete, kFP, "cannot delete task t1: it is paused"),
      refuse(S::kPaused, E::kPause, kFP, "cannot pause task t1: it is paused"),
      allow(S::kPaused, E::kResume, S::kRunning),

      refuse(S::kStopped, E::kCreate, kAE, "cannot create task t1: it already exists"),
      refuse(S::kStopped, E::kStart, kFP, "cannot start task t1: it is stopped"),
      allow(S::kStopped, E::kExit, S::kStopped),
      refuse(S::kStopped, E::kKill, kNF, "cannot kill task t1: process already finished"),
      allow(S::kStopped, E::kKillAll, S::kStopped),  // runc: Signal(all)
      allow(S::kStopped, E::kDelete, S::kDeleted),
      refuse(S::kStopped, E::kPause, kFP, "cannot pause task t1: it is stopped"),
      refuse(S::kStopped, E::kResume, kFP, "cannot resume task t1: it is stopped"),

      refuse(S::kDeleted, E::kCreate, kAE, "cannot create task t1: it already exists"),
      refuse(S::kDeleted, E::kStart, kNF, "cannot start task t1: it is deleted"),
      allow(S::kDeleted, E::kExit, S::kDeleted),
      refuse(S::kDeleted, E::kKill, kNF, "cannot kill task t1: it is deleted"),
      refuse(S::kDeleted, E::kKillAll, kNF, "cannot kill task t1: it is deleted"),
      refuse(S::kDeleted, E::kDelete, kNF, "cannot delete task t1: it is deleted"),
      refuse(S::kDeleted, E::kPause, kNF, "cannot pause task t1: it is deleted"),
      refuse(S::kDeleted, E::kResume, kNF, "cannot resume task t1: it is deleted"),
  };
}

std::string describe(const Row& row) {
  return std::string(taskStatusName(row.from)) + " + " + std::string(taskEventName(row.event));
}

TEST(TaskStateTable, CoversEveryPairOnce) {
  auto rows = table();
  ASSERT_EQ(rows.size(), kStatuses.size() * kEvents.size());
  for (S from : kStatuses) {
    for (E event : kEvents) {
      int count = 0;
      for (const auto& row : rows) count += (row.from == from && row.event == event);
      EXPECT_EQ(count, 1) << taskStatusName(from) << " + " << taskEventName(event);
    }
  }
}

TEST(TaskStateTable, NextStatusFollowsTheTable) {
  for (const auto& row : table()) {
    auto next = nextStatus(row.from, row.event, "t1");
    ASSERT_EQ(next.has_value(), row.ok) << describe(row);
    if (row.ok) {
      EXPECT_EQ(*next, row.to) << describe(row);
    } else {
      EXPECT_EQ(next.error().code, row.code) << describe(row);
      EXPECT_EQ(next.error().message, row.message) << describe(row);
    }
  }
}

// Drives a fresh TaskState into `status` through valid events only.
void reach(TaskState& task, S status) {
  switch (status) {
    case S::kCreated:
      return;
    case S::kRunning:
      ASSERT_TRUE(task.transition(E::kStart));
      return;
    case S::kPaused:
      ASSERT_TRUE(task.transition(E::kStart));
      ASSERT_TRUE(task.transition(E::kPause));
      return;
    case S::kStopped:
      ASSERT_TRUE(task.transition(E::kStart));
      ASSERT_TRUE(task.setExited({3, std::chrono::system_clock::now()}));
      return;
    case S::kDeleted:
      ASSERT_TRUE(task.transition(E::kDelete));
      return;
  }
}

TEST(TaskStateTable, TaskStateFollowsTheTableAndKeepsItsStateOnError) {
  for (const auto& row : table()) {
    TaskState task("t1");
    reach(task, row.from);
    ASSERT_EQ(task.status(), row.from) << describe(row);
    auto result = task.transition(row.event);
    ASSERT_EQ(result.has_value(), row.ok) << describe(row);
    if (row.ok) {
      EXPECT_EQ(*result, row.to) << describe(row);
      EXPECT_EQ(task.status(), row.to) << describe(row);
    } else {
      EXPECT_EQ(result.error().code, row.code) << describe(row);
      EXPECT_EQ(result.error().message, row.message) << describe(row);
      EXPECT_EQ(task.status(), row.from) << describe(row);
    }
  }
}

TEST(TaskState, ProtoStatusesMatchContainerdsEnum) {
  namespace types = containerd::v1::types;
  EXPECT_EQ(toProtoStatus(S::kCreated), types::CREATED);
  EXPECT_EQ(toProtoStatus(S::kRunning), types::RUNNING);
  EXPECT_EQ(toProtoStatus(S::kPaused), types::PAUSED);
  EXPECT_EQ(toProtoStatus(S::kStopped), types::STOPPED);
  EXPECT_EQ(toProtoStatus(S::kDeleted), types::STOPPED);  // runc's deletedState: "stopped"
  // The wire numbers containerd's task.proto assigns.
  EXPECT_EQ(static_cast<int>(types::CREATED), 1);
  EXPECT_EQ(static_cast<int>(types::RUNNING), 2);
  EXPECT_EQ(static_cast<int>(types::STOPPED), 3);
  EXPECT_EQ(static_cast<int>(types::PAUSED), 4);
}

TEST(TaskState, RecordsTheFirstExitOnly) {
  TaskState task("t1");
  ASSERT_TRUE(task.transition(E::kStart));
  auto at = std::chrono::system_clock::now();
  EXPECT_TRUE(task.setExited({137, at}));
  EXPECT_FALSE(task.setExited({0, at + std::chrono::seconds(1)}));
  ASSERT_TRUE(task.exit());
  EXPECT_EQ(task.exit()->status, 137u);
  EXPECT_EQ(task.exit()->exitedAt, at);
  EXPECT_EQ(task.protoStatus(), containerd::v1::types::STOPPED);
  ASSERT_TRUE(task.transition(E::kDelete));
  EXPECT_EQ(task.exit()->status, 137u);  // Delete answers with it
}

TEST(TaskState, ExitBeforeStartStopsTheTask) {
  TaskState task("t1");
  EXPECT_TRUE(task.setExited({1, std::chrono::system_clock::now()}));
  EXPECT_EQ(task.status(), S::kStopped);
  auto start = task.transition(E::kStart);
  ASSERT_FALSE(start);
  EXPECT_EQ(start.error().message, "cannot start task t1: it is stopped");
  EXPECT_TRUE(task.transition(E::kDelete));
}

TEST(TaskState, ExitDuringStartIsHeldUntilStartFinishes) {
  TaskState task("t1");
  ASSERT_TRUE(task.beginStart());
  auto at = std::chrono::system_clock::now();
  EXPECT_FALSE(task.setExited({42, at}));  // held: /tasks/start is not published yet
  EXPECT_EQ(task.status(), S::kCreated);
  ASSERT_TRUE(task.exit());  // recorded, so Wait/State could already see it
  auto held = task.finishStart(true);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->status, 42u);
  EXPECT_EQ(held->exitedAt, at);
  EXPECT_EQ(task.status(), S::kStopped);
  EXPECT_FALSE(task.finishStart(true));  // nothing started
}

TEST(TaskState, StartInProgressRefusesSecondStartAndDelete) {
  TaskState task("t1");
  ASSERT_TRUE(task.beginStart());
  auto again = task.beginStart();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(again.error().message, "cannot start task t1: it is starting");
  auto del = task.transition(E::kDelete);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().message, "cannot delete task t1: it is starting");
  EXPECT_TRUE(task.transition(E::kKill));  // a kill may stop a starting task
  EXPECT_FALSE(task.finishStart(true));
  EXPECT_EQ(task.status(), S::kRunning);
}

TEST(TaskState, FailedStartLeavesTheTaskCreatedOrAppliesTheHeldExit) {
  TaskState task("t1");
  ASSERT_TRUE(task.beginStart());
  EXPECT_FALSE(task.finishStart(false));
  EXPECT_EQ(task.status(), S::kCreated);

  ASSERT_TRUE(task.beginStart());
  EXPECT_FALSE(task.setExited({127, std::chrono::system_clock::now()}));
  auto held = task.finishStart(false);
  ASSERT_TRUE(held);
  EXPECT_EQ(task.status(), S::kStopped);
}

TEST(TaskState, ConcurrentExitAndStartNeverLoseTheExit) {
  for (int i = 0; i < 200; ++i) {
    TaskState task("t1");
    bool appliedNow = false;
    std::thread reaper([&] { appliedNow = task.setExited({9, std::chrono::system_clock::now()}); });
    bool heldBack = false;
    if (task.beginStart()) heldBack = task.finishStart(true).has_value();
    reaper.join();
    EXPECT_NE(appliedNow, heldBack) << "the exit must be published exactly once";
    EXPECT_EQ(task.status(), S::kStopped);
    ASSERT_TRUE(task.exit());
    EXPECT_EQ(task.exit()->status, 9u);
  }
}

}  // namespace
}  // namespace runwasi::shim
