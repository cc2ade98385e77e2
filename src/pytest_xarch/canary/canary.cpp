// pytest-xarch self-test canary, C++ part: what the C runtime alone does not prove.
//
// Usage and output as for canary.c: the plan, one `<name> ok|FAIL <detail>` line
// per probe, then `xarch-canary ok` or `xarch-canary FAIL <first failed probe>`.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

const char *first_failure = nullptr;
std::string detail;

void report(const char *name, bool ok) {
    std::printf("%s %s %s\n", name, ok ? "ok" : "FAIL", detail.c_str());
    std::fflush(stdout);
    if (!ok && first_failure == nullptr)
        first_failure = name;
    detail.clear();
}

struct Registered {
    int value = 0;
    Registered() { value = 42; }
};
Registered registered;  // its constructor must run before main

int unwound = 0;
struct Guard {
    ~Guard() { ++unwound; }
};

[[gnu::noinline]] int deepest(int depth) {
    Guard guard;
    if (depth > 0)
        return deepest(depth - 1) + 1;
    throw std::runtime_error("thrown three frames down");
}

[[gnu::noinline]] int middle() {
    Guard guard;
    return deepest(2);
}

bool probe_exceptions() {
    try {
        middle();
    } catch (const std::exception &caught) {
        bool good = std::strcmp(caught.what(), "thrown three frames down") == 0 && unwound == 4;
        detail = good ? "std::runtime_error caught as std::exception across 4 frames, "
                        "4 destructors ran during unwinding"
                      : "caught, but what() or the unwound destructor count (" +
                            std::to_string(unwound) + "/4) is wrong";
        return good;
    } catch (...) {
        detail = "caught by catch (...) instead of by its base class";
        return false;
    }
    detail = "the exception was not thrown";
    return false;
}

bool probe_static_init() {
    detail = registered.value == 42 ? "global constructor ran before main"
                                    : "global constructor did not run";
    return registered.value == 42;
}

int destroyed = 0;
struct PerThread {
    int value = 5;
    ~PerThread() { ++destroyed; }
};
thread_local PerThread per_thread;

bool probe_thread_local() {
    int seen = 0;
    std::thread worker([&seen] {
        seen = per_thread.value;
        per_thread.value = 9;
    });
    worker.join();
    bool good = seen == 5 && per_thread.value == 5 && destroyed == 1;
    detail = good ? "std::thread ran; its thread_local object was constructed and destroyed"
                  : "thread_local object: initial value " + std::to_string(seen) +
                        ", destructors run " + std::to_string(destroyed) + "/1";
    return good;
}

}  // namespace

int main() {
    std::printf("xarch-canary plan exceptions static-init thread-local\n");
    std::fflush(stdout);
    report("exceptions", probe_exceptions());
    report("static-init", probe_static_init());
    report("thread-local", probe_thread_local());
    if (first_failure != nullptr) {
        std::printf("xarch-canary FAIL %s\n", first_failure);
        return 1;
    }
    std::printf("xarch-canary ok\n");
    return 0;
}
