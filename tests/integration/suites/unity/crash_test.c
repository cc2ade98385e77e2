/* A Unity runner whose second case crashes: Unity prints no summary. */
#include <signal.h>

#include "unity.h"

void setUp(void) {}
void tearDown(void) {}

static void test_first(void) { TEST_ASSERT_TRUE(1); }

static void test_crashes(void) { raise(SIGSEGV); }

static void test_after(void) { TEST_ASSERT_TRUE(1); }

int main(void)
{
    UNITY_BEGIN();
    RUN_TEST(test_first);
    RUN_TEST(test_crashes);
    RUN_TEST(test_after);
    return UNITY_END();
}
