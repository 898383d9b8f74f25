# Warnings are errors everywhere in our own code.
add_library(thingport_warnings INTERFACE)
target_compile_options(thingport_warnings INTERFACE
  -Wall -Wextra -Werror -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wimplicit-fallthrough
  # GCC 12 at -O3 inlines libstdc++'s string and variant code and then reports -Wrestrict and
  # -Wmaybe-uninitialized where there is no bug (GCC PR 105329, 105651): warnings, not errors,
  # in optimized builds. Debug builds (asan, the test preset) keep them as errors.
  "$<$<AND:$<CXX_COMPILER_ID:GNU>,$<CONFIG:Release>>:-Wno-error=restrict;-Wno-error=maybe-uninitialized>")

function(thingport_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE thingport_warnings)
endfunction()

# The few files that instantiate Beast's HTTP coroutines for several streams take most of a
# sanitizer build's compile time: ota_transfer.cpp 86 s of CPU at -O1 against 44 s at -O0; the
# SDK's transport.cpp 170 → 104 s, registration.cpp 106 → 62 s, cli_http.cpp 32 → 17 s (two
# compiles side by side, 2026-12-06). Not net/handshake.cpp (150 → 80 s): it instantiates every
# transport's connection, the server's data path, which the tests run at -O1.
# The asan preset names -O0 here for them (CI builds and tests that preset); empty leaves them
# like the rest. Call from the directory that adds the files.
set(THINGPORT_HEAVY_FILES_OPT "" CACHE STRING
    "Optimization flag for the heaviest Beast files (the asan preset: -O0); empty: as the rest")
function(thingport_heavy_files)
  if(THINGPORT_HEAVY_FILES_OPT)
    set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS "${THINGPORT_HEAVY_FILES_OPT}")
  endif()
endfunction()
