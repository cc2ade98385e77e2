// Catch2 v2 verdicts: expected failures ([!mayfail], [!shouldfail]) and warnings count as
// Catch2 counts them; a hidden test is not run.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

TEST_CASE("passes") { CHECK(1 == 1); }
TEST_CASE("fails") { CHECK(1 == 2); }
TEST_CASE("may fail and fails", "[!mayfail]") { CHECK(1 == 2); }
TEST_CASE("may fail and passes", "[!mayfail]") { CHECK(1 == 1); }
TEST_CASE("should fail and fails", "[!shouldfail]") { CHECK(1 == 2); }
TEST_CASE("should fail and passes", "[!shouldfail]") { CHECK(1 == 1); }
TEST_CASE("warns") { WARN("only a warning"); CHECK(1 == 1); }
TEST_CASE("nofail check fails") { CHECK_NOFAIL(1 == 2); }
TEST_CASE("hidden", "[.]") { CHECK(1 == 2); }
