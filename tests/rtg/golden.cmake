# SPDX-License-Identifier: Apache-2.0
# Translates the sample SAMPLE (with FLAGS) to a header and an executable, runs the executable and
# compares the header with GOLDEN/SAMPLE.hpp and its stdout with GOLDEN/SAMPLE.out. With
# -DUPDATE=1 it rewrites the golden files instead (review the diff before committing).
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${RTG} ${FLAGS} -name ${SAMPLE} -o ${WORK}/${SAMPLE}.hpp ${SAMPLE}.go
                WORKING_DIRECTORY ${SAMPLES} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "crumble-rtg failed on ${SAMPLE}.go:\n${err}")
endif()
execute_process(COMMAND ${RTG} ${FLAGS} -o ${WORK}/${SAMPLE} ${SAMPLE}.go WORKING_DIRECTORY ${SAMPLES} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "crumble-rtg failed to build ${SAMPLE}:\n${err}")
endif()
execute_process(COMMAND ${WORK}/${SAMPLE} OUTPUT_FILE ${WORK}/${SAMPLE}.out RESULT_VARIABLE status TIMEOUT 60)
file(APPEND ${WORK}/${SAMPLE}.out "exit status ${status}\n")
foreach(kind hpp out)
  if(UPDATE)
    file(COPY_FILE ${WORK}/${SAMPLE}.${kind} ${GOLDEN}/${SAMPLE}.${kind})
    continue()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/${SAMPLE}.${kind} ${GOLDEN}/${SAMPLE}.${kind} RESULT_VARIABLE diff)
  if(NOT diff EQUAL 0)
    execute_process(COMMAND diff -u ${GOLDEN}/${SAMPLE}.${kind} ${WORK}/${SAMPLE}.${kind} OUTPUT_VARIABLE d)
    message(FATAL_ERROR "${SAMPLE}.${kind} differs from the golden file (rerun with -DUPDATE=1 if intended):\n${d}")
  endif()
endforeach()
