// GoogleTest verdicts the collector must report as GoogleTest does: disabled tests,
// a suite whose SetUpTestSuite fails, a skip, a pass and a failure.
#include <gtest/gtest.h>

TEST(Plain, Passes) { EXPECT_EQ(1, 1); }
TEST(Plain, Fails) { EXPECT_EQ(1, 2) << "one is not two"; }
TEST(Plain, Skips) { GTEST_SKIP() << "not here"; }
TEST(Plain, DISABLED_Broken) { EXPECT_EQ(1, 2) << "disabled for a reason"; }
TEST(DISABLED_Suite, AlsoBroken) { EXPECT_EQ(1, 2) << "the whole suite is disabled"; }

class Fixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { FAIL() << "cannot set the suite up"; }
};
TEST_F(Fixture, First) { EXPECT_EQ(1, 1); }
TEST_F(Fixture, Second) { EXPECT_EQ(1, 1); }
