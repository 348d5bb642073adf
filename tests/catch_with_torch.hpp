// Catch2 after LibTorch. Debian's c10 logs through glog, whose CHECK macro
// would silently replace Catch2's (and then need libglog at link time):
// include LibTorch first, drop glog's CHECK, then Catch2 defines its own.
#pragma once

#include <ATen/core/Tensor.h>

#undef CHECK
#include <catch2/catch.hpp>
