/* A Unity runner with one case of each kind Unity reports (see test_collect_unity.py). */
#include <stdio.h>
#include <string.h>

#include "unity.h"

static int counter;

void setUp(void) { counter = 0; }
void tearDown(void) {}

static void test_adds(void) { TEST_ASSERT_EQUAL_INT(4, 2 + 2); }

static void test_fails_with_message(void) { TEST_ASSERT_EQUAL_INT_MESSAGE(5, 2 + 2, "arithmetic"); }

static void test_ignored(void) { TEST_IGNORE_MESSAGE("not ready"); }

static void test_ignored_bare(void) { TEST_IGNORE(); }

static void test_prints_then_passes(void)
{
    printf("partial line from the case ");
    counter++;
    TEST_ASSERT_EQUAL_INT(1, counter);
}

static void test_strings(void) { TEST_ASSERT_EQUAL_STRING("abc", "abd"); }

int main(void)
{
    UNITY_BEGIN();
    RUN_TEST(test_adds);
    RUN_TEST(test_fails_with_message);
    RUN_TEST(test_ignored);
    RUN_TEST(test_ignored_bare);
    RUN_TEST(test_prints_then_passes);
    RUN_TEST(test_strings);
    RUN_TEST(test_adds); /* run twice: two cases, as Unity counts them */
    return UNITY_END();
}
