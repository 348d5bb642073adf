// Catch2's main, alone in its translation unit: it is slow to compile, so it
// is built once into a static library and never with sanitizers.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
