# Install directories that other packages define (systemd's unit and sysusers directories,
# bash-completion's completions directory), read from their pkg-config files with the prefixes
# replaced by ours, so that everything goes under CMAKE_INSTALL_PREFIX; a directory under the
# prefix is kept relative to it, so that `cmake --install --prefix P` moves it with the rest.
find_program(PASIDD_PKG_CONFIG NAMES pkg-config)

# pasidd_pc_dir(OUT PACKAGE VARIABLE FALLBACK): FALLBACK is relative to the prefix.
function(pasidd_pc_dir out package pcvar fallback)
  set(value "")
  if(PASIDD_PKG_CONFIG)
    # systemd puts units under root_prefix, "" for the prefix /usr (the / of merged-usr).
    if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
      set(root "")
    else()
      set(root "${CMAKE_INSTALL_PREFIX}")
    endif()
    execute_process(
      COMMAND ${PASIDD_PKG_CONFIG} --define-variable=prefix=${CMAKE_INSTALL_PREFIX}
              --define-variable=root_prefix=${root} --define-variable=rootprefix=${root}
              --define-variable=datadir=${CMAKE_INSTALL_FULL_DATADIR} --variable=${pcvar}
              ${package}
      OUTPUT_VARIABLE value OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  if(NOT value)
    set(value "${CMAKE_INSTALL_PREFIX}/${fallback}")
  endif()
  string(LENGTH "${CMAKE_INSTALL_PREFIX}/" n)
  string(SUBSTRING "${value}/" 0 ${n} head)
  if(head STREQUAL "${CMAKE_INSTALL_PREFIX}/")
    string(SUBSTRING "${value}" ${n} -1 value)
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()
