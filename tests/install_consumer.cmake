# SPDX-License-Identifier: Apache-2.0
# Installs crumble into a temporary prefix (the library alone: no tests, benchmarks, examples or
# CLI), builds examples/consumer against it with find_package(crumble), and runs what it made: the
# consumer (its own RTG file through crumble_add_rtg, a Session with the package's default init, a
# command and a payload in the guest) and its Catch2 test binary that boots microVMs. Invoked by
# ctest with -P; the guest kernel must have been fetched (crumble kernel fetch).
file(REMOVE_RECURSE ${WORK})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/lib -G ${GENERATOR} -DCMAKE_INSTALL_PREFIX=${WORK}/prefix
    -DCRUMBLE_BUILD_TESTS=OFF -DCRUMBLE_BUILD_BENCH=OFF -DCRUMBLE_BUILD_EXAMPLES=OFF -DCRUMBLE_BUILD_TOOLS=OFF
    -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
run(${CMAKE_COMMAND} --build ${WORK}/lib -j2)
run(${CMAKE_COMMAND} --install ${WORK}/lib)
foreach(f include/crumble/vm/guest/default_init.hpp include/crumble/version.hpp include/crumble/rtg/translate.hpp
          bin/crumble-rtg lib/cmake/crumble/CrumbleRtg.cmake)
  if(NOT EXISTS ${WORK}/prefix/${f})
    file(GLOB_RECURSE have RELATIVE ${WORK}/prefix ${WORK}/prefix/*)
    message(FATAL_ERROR "the package lacks ${f}; it has: ${have}")
  endif()
endforeach()
# The consumer builds without the source tree and with the compiler's default constexpr limits.
run(${CMAKE_COMMAND} -S ${SOURCE}/examples/consumer -B ${WORK}/consumer -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
run(${CMAKE_COMMAND} --build ${WORK}/consumer -j2)
# Running it boots microVMs: that needs QEMU and the fetched kernel (crumble kernel fetch).
find_program(qemu qemu-system-x86_64)
if(DEFINED ENV{XDG_CACHE_HOME})
  set(cache $ENV{XDG_CACHE_HOME}/crumble)
else()
  set(cache $ENV{HOME}/.cache/crumble)
endif()
file(GLOB kernels ${cache}/kernels/*/boot/vmlinuz-*)
if(NOT qemu OR NOT kernels)
  message(STATUS "SKIPPED: built the consumer against the install, but cannot run it: "
                 "no qemu-system-x86_64 or no kernel in ${cache}/kernels (run `crumble kernel fetch`)")
  file(REMOVE_RECURSE ${WORK})
  return()
endif()
run(${WORK}/consumer/consumer)
foreach(expected "consumer: [0-9]+ bytes of AMD64 code" "uname -s in the guest: Linux\n"
                 "triangle payload returned 5050001\n" "translated at run time, returned 42\n")
  if(NOT last_output MATCHES "${expected}")
    message(FATAL_ERROR "consumer output lacks \"${expected}\":\n${last_output}")
  endif()
endforeach()
message(STATUS "consumer ran:\n${last_output}")
run(${WORK}/consumer/consumer_vm_test)
if(NOT last_output MATCHES "All tests passed \\(([0-9]+) assertions in 3 test cases\\)")
  message(FATAL_ERROR "the consumer's Catch2 test did not run its 3 test cases:\n${last_output}")
endif()
message(STATUS "consumer_vm_test: ${last_output}")
file(REMOVE_RECURSE ${WORK})
