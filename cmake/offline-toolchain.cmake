# v8x builds WAMR with CMake, which would clone SIMDe from the network.
# Point it at Debian's libsimde-dev headers instead so builds work offline.
set(FETCHCONTENT_SOURCE_DIR_SIMDE /usr/include CACHE PATH "" FORCE)
