// A small doctest suite: pass, fail, skip and crash.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

TEST_CASE("adds") { CHECK(2 + 2 == 4); }

TEST_CASE("fails") {
  int answer = 41;
  CHECK(answer == 42);
}

TEST_CASE("skipped" * doctest::skip()) { CHECK(false); }

TEST_CASE("crashes") {
  volatile int *nowhere = nullptr;
  *nowhere = 1;
}
