#pragma once
// Where the LibTorch versions pevis builds on differ: Debian 12's 1.13 and
// Debian 13's 2.6 (scripts/test --debian13). Every version check of pevis
// is named here, and used only where the two differ.

#include <torch/version.h>

/// True when the LibTorch pevis is built on is MAJOR.MINOR or newer.
#define PEVIS_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

/// aten::scaled_dot_product_attention exists (2.0); before, pevis adds it
/// (operators/added_ops.h) so that files saved by PyTorch 2.x load.
#define PEVIS_TORCH_HAS_SDPA PEVIS_TORCH_AT_LEAST(2, 0)

/// aten::rms_norm exists (2.4); before, pevis adds it.
#define PEVIS_TORCH_HAS_RMS_NORM PEVIS_TORCH_AT_LEAST(2, 4)

/// c10::Allocator::allocate is not const, and copy_data must be given (2.3).
#define PEVIS_TORCH_MUTABLE_ALLOCATOR PEVIS_TORCH_AT_LEAST(2, 3)

/// LibTorch's float exp/sin/cos on the CPU give the very bits of pevis's own
/// sinusoid (SLEEF's u10 functions, where the CPU has AVX2) up to 1.13; 2.6
/// differs from both in the last bit of some values (at most 1.2e-7,
/// measured on the tables of the tests).
// c10's warnings: a function namespace (1.13) or a class with WarningUtils (2.x).
#define PEVIS_TORCH_WARNING_CLASS PEVIS_TORCH_AT_LEAST(2, 0)

#define PEVIS_TORCH_SINUSOID_BIT_EXACT (!PEVIS_TORCH_AT_LEAST(2, 0))
