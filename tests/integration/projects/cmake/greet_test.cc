#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "greet.h"

TEST(Greet, Adds) { EXPECT_EQ(greet_add(2, 3), 5); }

TEST(Greet, RunsOnTheTarget) {
  const char *target = std::getenv("XARCH_TARGET");
  ASSERT_NE(target, nullptr) << "not run through xarch";
  EXPECT_STREQ(greet_machine(), "aarch64");
}

class Sums : public ::testing::TestWithParam<int> {};
TEST_P(Sums, Commute) { EXPECT_EQ(greet_add(GetParam(), 1), greet_add(1, GetParam())); }
INSTANTIATE_TEST_SUITE_P(Small, Sums, ::testing::Values(-1, 0, 7));
