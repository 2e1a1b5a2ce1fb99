# CTest "man-lint": mandoc's linter over every manual page in man/; any message at level
# warning or above fails it; without mandoc it reports skipped. include()d from
# tests/CMakeLists.txt, after enable_testing().
if(PASIDD_TESTS)
  find_program(MANDOC mandoc)
  if(MANDOC)
    set(PASIDD_MAN_PAGES)
    foreach(page pasidd.8 pasidctl.8 pasidd.conf.5 libpasid.3)
      if(EXISTS ${PROJECT_SOURCE_DIR}/man/${page})
        list(APPEND PASIDD_MAN_PAGES ${PROJECT_SOURCE_DIR}/man/${page})
      endif()
    endforeach()
    add_test(NAME man-lint COMMAND ${MANDOC} -T lint -W warning ${PASIDD_MAN_PAGES})
    # mandoc's exit status says whether it found something; its output says what.
    set_tests_properties(man-lint PROPERTIES FAIL_REGULAR_EXPRESSION "WARNING|ERROR|UNSUPP")
  else()
    message(STATUS "mandoc not found: test man-lint reports skipped")
    add_test(NAME man-lint COMMAND sh -c
                                   "echo 'man-lint: skipped: mandoc was not found' >&2; exit 77")
  endif()
  set_tests_properties(man-lint PROPERTIES SKIP_RETURN_CODE 77 LABELS doc)
endif()
