# Warnings and per-target helpers shared by every Fathom target.
if(MSVC)
    set(FATHOM_WARNING_FLAGS /W4 /permissive- /utf-8)
else()
    set(FATHOM_WARNING_FLAGS -Wall -Wextra -Wno-unused-parameter)
endif()

# fathom_target_defaults(<target>): warnings and the include root every module uses.
function(fathom_target_defaults target)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${FATHOM_WARNING_FLAGS}>)
endfunction()

# x86-64 builds compile AVX2 kernels in their own translation units and dispatch at run time, so
# the binaries still start on CPUs without AVX2.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    set(FATHOM_X86_64 ON)
    if(MSVC)
        set(FATHOM_AVX2_FLAGS /arch:AVX2)
    else()
        set(FATHOM_AVX2_FLAGS -mavx2 -mfma -mf16c)
    endif()
else()
    set(FATHOM_X86_64 OFF)
    set(FATHOM_AVX2_FLAGS "")
endif()
