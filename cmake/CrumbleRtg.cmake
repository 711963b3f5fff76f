# SPDX-License-Identifier: Apache-2.0
# crumble_add_rtg(<target> SOURCE file.go [ARCH amd64|arm64|riscv64] [NAME function]
#                 [NAMESPACE ns] [DEFINES FLAG...] [CONFIG key=value...])
#
# Translates an RTG file to the header <target>.hpp (in crumble_rtg/ of the current binary
# directory) at build time (again whenever the source or
# the translator changes) and makes <target> an INTERFACE library that puts the header on the
# include path. The header defines `constexpr crumble::ir::Program NAME()` (NAME defaults to
# the target name) in namespace NS (default crumble::rtg::programs).
function(crumble_add_rtg target)
  cmake_parse_arguments(PARSE_ARGV 1 RTG "" "SOURCE;ARCH;NAME;NAMESPACE" "DEFINES;CONFIG")
  if(NOT RTG_SOURCE)
    message(FATAL_ERROR "crumble_add_rtg(${target}): SOURCE is required")
  endif()
  if(RTG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "crumble_add_rtg(${target}): unknown arguments ${RTG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT RTG_ARCH)
    set(RTG_ARCH amd64)
  endif()
  if(NOT RTG_NAME)
    string(MAKE_C_IDENTIFIER ${target} RTG_NAME)
  endif()
  get_filename_component(source ${RTG_SOURCE} ABSOLUTE)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/crumble_rtg)
  set(header ${dir}/${target}.hpp)
  set(args -arch ${RTG_ARCH} -name ${RTG_NAME})
  if(RTG_NAMESPACE)
    list(APPEND args -namespace ${RTG_NAMESPACE})
  endif()
  foreach(d IN LISTS RTG_DEFINES)
    list(APPEND args -D ${d})
  endforeach()
  foreach(c IN LISTS RTG_CONFIG)
    list(APPEND args -c ${c})
  endforeach()
  add_custom_command(OUTPUT ${header}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND crumble::crumble-rtg ${args} -o ${header} ${source}
    DEPENDS ${source} $<TARGET_FILE:crumble::crumble-rtg>
    COMMENT "RTG ${RTG_SOURCE} -> ${target}.hpp"
    VERBATIM)
  add_custom_target(${target}_rtg_header DEPENDS ${header})
  add_library(${target} INTERFACE)
  target_include_directories(${target} INTERFACE ${dir})
  target_link_libraries(${target} INTERFACE crumble::crumble)
  add_dependencies(${target} ${target}_rtg_header)
endfunction()
