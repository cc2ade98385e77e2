// doctest verdicts: should_fail, may_fail, expected_failures(n), WARN, two cases of one
// name, and a skip() case, counted as doctest counts them.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

TEST_CASE("passes") { CHECK(1 == 1); }
TEST_CASE("fails") { CHECK(1 == 2); }
TEST_CASE("should fail and fails" * doctest::should_fail()) { CHECK(1 == 2); }
TEST_CASE("should fail and passes" * doctest::should_fail()) { CHECK(1 == 1); }
TEST_CASE("may fail and fails" * doctest::may_fail()) { CHECK(1 == 2); }
TEST_CASE("may fail and passes" * doctest::may_fail()) { CHECK(1 == 1); }
TEST_CASE("two expected failures" * doctest::expected_failures(2)) {
  CHECK(1 == 2);
  CHECK(2 == 3);
}
TEST_CASE("one of two expected failures" * doctest::expected_failures(2)) { CHECK(1 == 2); }
TEST_CASE("warns") {
  WARN(1 == 2);
  CHECK(1 == 1);
}
TEST_CASE("duplicate") { CHECK(1 == 1); }
TEST_CASE("duplicate") { CHECK(1 == 2); }
TEST_CASE("skipped" * doctest::skip()) { CHECK(1 == 2); }
