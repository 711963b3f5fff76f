# SPDX-License-Identifier: Apache-2.0
# Installs crumble into a temporary prefix, builds examples/consumer against it with
# find_package(crumble CONFIG REQUIRED), and runs the result. Invoked by ctest with -P.
file(REMOVE_RECURSE ${WORK})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/lib -G ${GENERATOR} -DCMAKE_INSTALL_PREFIX=${WORK}/prefix
    -DCRUMBLE_BUILD_TESTS=OFF -DCRUMBLE_BUILD_BENCH=OFF -DCRUMBLE_BUILD_EXAMPLES=OFF -DCRUMBLE_BUILD_TOOLS=OFF)
run(${CMAKE_COMMAND} --install ${WORK}/lib)
run(${CMAKE_COMMAND} -S ${SOURCE}/examples/consumer -B ${WORK}/consumer -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${WORK}/prefix)
run(${CMAKE_COMMAND} --build ${WORK}/consumer)
run(${WORK}/consumer/consumer)
if(NOT last_output MATCHES "consumer: [0-9]+ bytes of AMD64 code")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
message(STATUS "consumer ran: ${last_output}")
file(REMOVE_RECURSE ${WORK})
