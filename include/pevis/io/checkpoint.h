#pragma once
// torch.save zip checkpoints (a state_dict, or a dict or list holding one),
// read by the restricted pickle reader: no code from the file runs.

#include <memory>
#include <string>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"

namespace pevis {

/// True for a zip archive that holds a pickle (`data.pkl`): what torch.save
/// writes.
bool is_checkpoint_archive(const ZipArchive& zip);

/// Reads a `torch.save` zip checkpoint with the restricted pickle reader.
Model read_checkpoint(const std::string& path);

/// The same from a zip archive already opened (`load_model` opens each file once).
Model read_checkpoint_archive(std::shared_ptr<const ZipArchive> zip, const std::string& path);

/// The same from the bytes of a checkpoint held inside another archive;
/// `path` names it in messages.
Model read_checkpoint_bytes(const std::string& bytes, const std::string& path);

/// True for the first bytes of a checkpoint in the legacy format torch.save
/// wrote before PyTorch 1.6 (a pickle header, then torch's magic number).
bool is_legacy_checkpoint_head(const std::string& head);

/// True for the first bytes of a bare Python pickle.
bool is_pickle_head(const std::string& head);

}  // namespace pevis
