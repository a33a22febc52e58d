#pragma once
// `pevis encoding MODEL`: the positional tensors a model holds.

#include "pevis/encoding/encoding_job.h"

namespace pevis {

/// Loads the model and draws the positional tensor asked for (or the first
/// candidate): a [positions, dims] table (and how far it is from the
/// sinusoid), rotary inv_freq (its base and scaling, fitted), a T5 or Swin
/// relative position bias, or the rotary settings of a folder's
/// config.json; with `list`, only says the candidates (no products).
/// Throws `pevis::Error` (exit 2 for checks that do not fit the tensor, 3
/// for a model without such tensors).
JobResult model_encoding_job(const EncodingRequest& request, const Progress& progress = {});

}  // namespace pevis
