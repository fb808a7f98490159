# One shape for every area (DESIGN.md "Conventions"):
#   <dir>/include/mailsim/<area>/*.hpp   public headers
#   <dir>/src/*.cpp                      the static library mailsim_<area>
#   <dir>/src/*_test.cpp                 one gtest binary mailsim_<area>_test
# Usage: mailsim_area(<area> DEPS <libs…> [TEST_DEPS <libs…>])
function(mailsim_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(MAILSIM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(mailsim_area area)
  cmake_parse_arguments(A "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*_test.cpp)
  list(REMOVE_ITEM sources ${tests} "")
  if(NOT sources)
    # An area whose library is not written yet: headers only, so dependants still configure.
    add_library(mailsim_${area} INTERFACE)
    add_library(mailsim::${area} ALIAS mailsim_${area})
    target_include_directories(mailsim_${area} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(mailsim_${area} INTERFACE ${A_DEPS})
    return()
  endif()
  add_library(mailsim_${area} STATIC ${sources})
  add_library(mailsim::${area} ALIAS mailsim_${area})
  target_include_directories(mailsim_${area} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                             PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(mailsim_${area} PUBLIC ${A_DEPS})
  mailsim_warnings(mailsim_${area})
  if(tests)
    add_executable(mailsim_${area}_test ${tests})
    target_include_directories(mailsim_${area}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(mailsim_${area}_test PRIVATE mailsim_${area} ${A_TEST_DEPS}
                          GTest::gtest GTest::gmock GTest::gtest_main)
    target_compile_definitions(mailsim_${area}_test PRIVATE
      MAILSIM_VECTORS_DEFAULT="${MAILSIM_VECTORS}"
      MAILSIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    mailsim_warnings(mailsim_${area}_test)
    gtest_discover_tests(mailsim_${area}_test
      DISCOVERY_TIMEOUT 60
      PROPERTIES LABELS ${area} TIMEOUT 300
      XML_OUTPUT_DIR ${CMAKE_BINARY_DIR}/test-results)
  endif()
endfunction()
