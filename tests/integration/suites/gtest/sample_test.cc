// A small GoogleTest suite with every outcome the collector must report.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

// Writes to stderr well after the case's start marker and well before its end, so that the
// reader, which tells the two pipes' order by arrival, reads the three apart.
static void Say(const char *line) {
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::fputs(line, stderr);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
}

TEST(Math, Adds) {
  Say("stderr of Math.Adds\n");
  EXPECT_EQ(2 + 2, 4);
}

TEST(Math, Fails) {
  Say("stderr of Math.Fails\n");
  int answer = 41;
  EXPECT_EQ(answer, 42) << "the answer is off by one";
}

TEST(Math, Skipped) { GTEST_SKIP() << "not on this target"; }

TEST(Crash, Segfault) {
  Say("stderr of Crash.Segfault\n");
  volatile int *nowhere = nullptr;
  *nowhere = 1;
}

TEST(Hang, Forever) {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

TEST(Env, SeesTarget) {
  const char *target = std::getenv("XARCH_TARGET");
  ASSERT_NE(target, nullptr);
}

class Square : public ::testing::TestWithParam<int> {};

TEST_P(Square, NonNegative) { EXPECT_GE(GetParam() * GetParam(), 0); }

INSTANTIATE_TEST_SUITE_P(Small, Square, ::testing::Values(-2, 3));
