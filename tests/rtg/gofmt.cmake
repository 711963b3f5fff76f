# SPDX-License-Identifier: Apache-2.0
# Every RTG file in the repository (samples, corpus, programs compared with Go, the runtime stub,
# the Go oracle's runtime and bench/compile_time's frozen init) is valid Go and formatted as gofmt
# formats it: gofmt -l -e lists nothing and reports no syntax error.
file(GLOB_RECURSE files ${ROOT}/examples/rtg/*.go ${ROOT}/tests/rtg/corpus/*.go ${ROOT}/tests/rtg/go_compared/*.go
     ${ROOT}/tests/rtg/go_oracle/*.go ${ROOT}/rtg/*.go ${ROOT}/bench/compile_time/*.go)
list(LENGTH files n)
if(n LESS 3)
  message(FATAL_ERROR "found only ${n} .go files under ${ROOT}")
endif()
execute_process(COMMAND ${GOFMT} -l -e ${files} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "")
  message(FATAL_ERROR "gofmt rejects or would reformat:\n${out}${err}")
endif()
message(STATUS "gofmt: ${n} RTG files are valid, formatted Go")
