// A small Catch2 (v2, single header) suite with every outcome the collector must report.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

TEST_CASE("adds", "[math]") { REQUIRE(2 + 2 == 4); }

TEST_CASE("fails", "[math]") {
  int answer = 41;
  CHECK(answer == 42);
}

TEST_CASE("crashes", "[crash]") {
  volatile int *nowhere = nullptr;
  *nowhere = 1;
}

TEST_CASE("hangs forever", "[hang]") {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

TEST_CASE("sections pass", "[math]") {
  SECTION("one") { CHECK(1 == 1); }
  SECTION("two") { CHECK(2 == 2); }
}
