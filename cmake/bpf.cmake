# BPF programs (daemon/bpf/*.bpf.c): compiled with clang -target bpf, each turned into a libbpf
# skeleton header (<name>.skel.h) by bpftool gen skeleton, both from Debian 12's packages.
# PASIDD_BPF=OFF builds pasidd without them (daemon.status.bpf then says so); left unset, it
# is on when clang and bpftool are found.
find_program(PASIDD_CLANG NAMES clang-14 clang)
find_program(PASIDD_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
if(NOT DEFINED PASIDD_BPF)
  if(PASIDD_CLANG AND PASIDD_BPFTOOL)
    set(PASIDD_BPF ON)
  else()
    set(PASIDD_BPF OFF)
    message(STATUS "BPF programs left out: clang or bpftool not found (apt install clang bpftool)")
  endif()
endif()
set(PASIDD_BPF ${PASIDD_BPF} CACHE BOOL "Build pasidd's BPF programs (needs clang, bpftool, libbpf)")
if(PASIDD_BPF)
  if(NOT PASIDD_CLANG OR NOT PASIDD_BPFTOOL)
    message(FATAL_ERROR "PASIDD_BPF=ON needs clang and bpftool (apt install clang bpftool)")
  endif()
  pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
  set(PASIDD_BPF_GEN ${CMAKE_BINARY_DIR}/bpf-gen)
  file(MAKE_DIRECTORY ${PASIDD_BPF_GEN})
  # The target's architecture for the __TARGET_ARCH_ macros of bpf_tracing.h.
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" PASIDD_BPF_ARCH)
  if(PASIDD_BPF_ARCH MATCHES "x86_64|amd64")
    set(PASIDD_BPF_ARCH x86)
  elseif(PASIDD_BPF_ARCH MATCHES "aarch64|arm64")
    set(PASIDD_BPF_ARCH arm64)
  endif()
  # Programs that include <linux/bpf.h> rather than a vmlinux.h need <asm/types.h>, which
  # Debian keeps under the multiarch directory that clang -target bpf does not search.
  set(PASIDD_BPF_INCLUDES)
  if(CMAKE_LIBRARY_ARCHITECTURE AND EXISTS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
    set(PASIDD_BPF_INCLUDES -idirafter /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  endif()
endif()

# pasidd_bpf_skeleton(TARGET NAME): daemon/bpf/NAME.bpf.c -> NAME.bpf.o -> NAME.skel.h, a
# dependency of TARGET, whose sources include "NAME.skel.h".
function(pasidd_bpf_skeleton target name)
  set(src ${PROJECT_SOURCE_DIR}/daemon/bpf/${name}.bpf.c)
  set(obj ${PASIDD_BPF_GEN}/${name}.bpf.o)
  set(skel ${PASIDD_BPF_GEN}/${name}.skel.h)
  file(GLOB bpf_headers ${PROJECT_SOURCE_DIR}/daemon/bpf/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${PASIDD_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${PASIDD_BPF_ARCH} -Wall -Werror
            -I${PROJECT_SOURCE_DIR}/daemon/bpf ${PASIDD_BPF_INCLUDES} -c ${src} -o ${obj}
    DEPENDS ${src} ${bpf_headers}
    COMMENT "BPF ${name}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${PASIDD_BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(bpf_${name} DEPENDS ${skel})
  add_dependencies(${target} bpf_${name})
  target_include_directories(${target} PRIVATE ${PASIDD_BPF_GEN})
endfunction()
