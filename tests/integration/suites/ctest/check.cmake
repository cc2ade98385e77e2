# A host-only test: cmake -P runs it; no target program is involved.
if(NOT EXISTS "${CMAKE_CURRENT_LIST_DIR}/returns.c")
  message(FATAL_ERROR "returns.c is missing")
endif()
