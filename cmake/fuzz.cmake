# Fuzzing with libFuzzer (clang). Off unless -DBERTH_FUZZ=ON, which belongs
# in a build directory of its own (hack/fuzz uses build-fuzz/):
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DBERTH_FUZZ=ON
#   cmake --build build-fuzz --target fuzzers
# Everything is then compiled with ASan, UBSan (no recovery: any undefined
# behaviour aborts, as a crash the fuzzer reports) and libFuzzer's coverage
# instrumentation; only the fuzz targets link libFuzzer itself.
option(BERTH_FUZZ "Build the libFuzzer targets (clang only; use a separate build directory)" OFF)

if(BERTH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "BERTH_FUZZ needs clang: configure with CXX=clang++ "
      "(found ${CMAKE_CXX_COMPILER_ID})")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  # `cmake --build build-fuzz --target fuzzers` builds every fuzz target and
  # only the libraries they link.
  add_custom_target(fuzzers)
endif()

# berth_add_fuzz(NAME [SOURCES ...] LIBS ... [SEEDS dir...] [DICT file])
# A libFuzzer binary NAME (from NAME.cc unless SOURCES says otherwise) that
# defines LLVMFuzzerTestOneInput, linked with LIBS. Its inputs live beside
# it: testdata/fuzz/NAME/seeds (hand-made seeds, optional) and
# testdata/fuzz/NAME/regressions (every crash ever found, replayed first by
# hack/fuzz); SEEDS adds more seed directories (e.g. controller/testdata),
# DICT a libFuzzer dictionary. hack/fuzz finds all of this in
# <build>/fuzz/NAME.env. Does nothing unless BERTH_FUZZ is ON.
function(berth_add_fuzz name)
  if(NOT BERTH_FUZZ)
    return()
  endif()
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "DICT" "SOURCES;LIBS;SEEDS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "berth_add_fuzz(${name}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_SOURCES)
    set(arg_SOURCES ${name}.cc)
  endif()
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE ${arg_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz/bin)
  add_dependencies(fuzzers ${name})

  set(data ${CMAKE_CURRENT_SOURCE_DIR}/testdata/fuzz/${name})
  set(seeds ${data}/seeds)
  foreach(dir ${arg_SEEDS})
    get_filename_component(dir ${dir} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND seeds ${dir})
  endforeach()
  set(dict "")
  if(arg_DICT)
    get_filename_component(dict ${arg_DICT} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  list(JOIN seeds " " seeds)
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/fuzz/${name}.env CONTENT
"binary='$<TARGET_FILE:${name}>'
seeds='${seeds}'
regressions='${data}/regressions'
dict='${dict}'
")
endfunction()
